"""A refusal's problems placed on the form: each API field path (`mounts.2`, `env.HOME`,
`schedules.1.cron`) becomes the form field that shows it, with the line of a multi-line field
(one item a line) it is about; every problem of a field is kept, not only the first."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.web.calls import ApiError
from app.web.forms import FormErrors, error_key

M = TypeVar("M", bound=BaseModel)

# API list fields whose items are the non-blank lines of a textarea (form field name).
_LINE_LISTS = {
    "mounts": "mounts",
    "schedules": "extra_schedules",
    "blackouts": "blackouts",
    "command": "command",  # adhoc's command as a list of arguments
}
# API mappings written KEY=VALUE, one a line.
_LINE_PAIRS = ("env", "labels", "secrets")
# API lists typed as words (dates) separated by spaces, commas or new lines.
_WORD_LISTS = ("extra_dates", "working_dates")
_WORD = re.compile(r"[^\s,]+")


def _parts(path: str) -> list[str]:
    """`body.schedules[1].cron` / `schedules.1.cron` as ["schedules", "1", "cron"]."""
    flat = path.replace("[", ".").replace("]", "")
    return [p for p in flat.split(".") if p and p != "body"]


def item_line(text: str, index: int) -> int | None:
    """The line number (from 1) of the index-th non-blank line."""
    seen = -1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            seen += 1
            if seen == index:
                return number
    return None


def word_line(text: str, index: int) -> int | None:
    """The line number of the index-th word (dates may share a line)."""
    seen = -1
    for number, line in enumerate(text.splitlines(), start=1):
        seen += len(_WORD.findall(line))
        if seen >= index:
            return number
    return None


def key_line(text: str, key: str) -> int | None:
    """The line number of `KEY=...` in a KEY=VALUE textarea."""
    for number, line in enumerate(text.splitlines(), start=1):
        name, sep, _ = line.partition("=")
        if sep and name.strip() == key:
            return number
    return None


def line_of(path: str, values: Mapping[str, str]) -> int | None:
    """Which line of its textarea an API field path is about, if it is about one."""
    parts = _parts(path)
    if len(parts) < 2:
        return None
    head, item = parts[0], parts[1]
    if head in _LINE_LISTS and item.isdigit():
        return item_line(values.get(_LINE_LISTS[head], ""), int(item))
    if head in _WORD_LISTS and item.isdigit():
        return word_line(values.get(head, ""), int(item))
    if head in _LINE_PAIRS:
        return key_line(values.get(head, ""), item)
    return None


def located(
    problems: Mapping[str, str] | list[tuple[str, str]],
    values: Mapping[str, str],
    key: Callable[[str], str] = error_key,
) -> dict[str, str]:
    """{form field: "line 3: must be ...; line 5: ..."} from (API path, problem) pairs."""
    pairs = list(problems.items()) if isinstance(problems, Mapping) else problems
    found: dict[str, str] = {}
    for path, problem in pairs:
        line = line_of(path, values)
        text = f"line {line}: {problem}" if line else problem
        field = key(path)
        if text in found.get(field, ""):
            continue
        found[field] = f"{found[field]}; {text}" if field in found else text
    return found


def refusal_errors(exc: ApiError, values: Mapping[str, str]) -> dict[str, str]:
    """Every problem of a refusal, by form field, with line numbers."""
    pairs = [(e.get("field", ""), e.get("problem", "")) for e in exc.errors]
    if not pairs:
        pairs = list(exc.field_errors().items())
    return located(pairs, values)


def merged(*sources: Mapping[str, str]) -> dict[str, str]:
    """Errors from several checks, the first source's winning a field (the form's own
    reading comes before the API's validation of what it could read)."""
    found: dict[str, str] = {}
    for source in sources:
        for field, problem in source.items():
            found.setdefault(field, problem)
    return found


def checked(
    model: type[M], payload: Any, unreadable: Mapping[str, str], values: Mapping[str, str]
) -> M:
    """The body the API would read, or FormErrors with every problem at once: the fields the
    form could not read and the API's refusals of the rest."""
    try:
        body = model.model_validate(payload)
    except ValidationError as exc:
        raise FormErrors(merged(unreadable, refusal_errors(ApiError.of(exc), values))) from exc
    if unreadable:
        raise FormErrors(dict(unreadable))
    return body
