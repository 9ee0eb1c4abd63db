"""Why a document is refused: one problem per item and field, raised all at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from app.domain.error_words import plain_problem
from app.errors import AlmanacError
from app.models.io_schemas import ImportProblem

_SCHEDULE_KINDS = ("cron", "times", "frequency", "once")


class ImportRefused(AlmanacError):
    """The document cannot be imported; nothing was changed. `status` is the HTTP status."""

    def __init__(self, status: int, problems: Sequence[ImportProblem]) -> None:
        self.status = status
        self.problems = list(problems)
        super().__init__(summary(self.problems))


def summary(problems: Sequence[ImportProblem]) -> str:
    shown = "; ".join(f"{p.item}: {p.field}: {p.problem}" for p in problems[:10])
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    return shown + more


def problem(item: str, field: str, text: str) -> ImportProblem:
    return ImportProblem(item=item, field=field, problem=text)


def item_label(section: str, index: int, raw: Any) -> str:
    """`tasks[3] 'load'`, `dependencies[0] (etl: a -> b)`: where a person finds the item."""
    label = f"{section}[{index}]"
    if not isinstance(raw, Mapping):
        return label
    if section == "dependencies":
        parts = [raw.get(k) for k in ("group", "upstream", "downstream")]
        if all(isinstance(p, str) for p in parts):
            return f"{label} ({parts[0]}: {parts[1]} -> {parts[2]})"
    if section == "group_dependencies":
        group, upstream = raw.get("group"), raw.get("upstream_group")
        if isinstance(group, str) and isinstance(upstream, str):
            return f"{label} ({group} waits for {upstream})"
    name = raw.get("name")
    return f"{label} {name!r}" if isinstance(name, str) else label


def _raw_at(data: Any, loc: Sequence[int | str]) -> Any:
    for step in loc:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def from_validation(exc: ValidationError, data: Mapping[str, Any]) -> list[ImportProblem]:
    """pydantic's errors as problems naming the item (by position and name) and the field."""
    found = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if len(loc) >= 2 and isinstance(loc[1], int):
            item = item_label(str(loc[0]), loc[1], _raw_at(data, loc[:2]))
            rest = loc[2:]
        else:
            item, rest = "document", loc
        parts: list[str] = []
        for index, step in enumerate(rest):
            # A schedule's union tag (its kind) is pydantic's, not a field of the file.
            if index > 0 and rest[index - 1] == "schedule" and step in _SCHEDULE_KINDS:
                continue
            parts.append(str(step))
        field = ".".join(parts) or "item"
        text = plain_problem(err)
        if err.get("type") == "union_tag_invalid":
            field, text = field + ".kind", "must be one of " + ", ".join(_SCHEDULE_KINDS)
        last = parts[-1] if parts else ""
        if last and text.startswith(f"{last}: "):
            text = text[len(last) + 2 :]
        found.append(problem(item, field, text))
    return found
