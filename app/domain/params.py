"""Typed run parameters: what a task or group declares, and the values a run gets.

A declaration is a plain mapping `{"name", "type", "default", "required", "choices",
"description"}` (as stored on tasks and groups). `check_declarations` lists what is wrong with
a list of them; `resolve_values` turns given values (JSON values, or text from a CLI flag or a
form field) into typed values with the defaults filled in, or raises InvalidInput naming
`params.NAME`. Values stay JSON values: a date is its ISO text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.errors import InvalidInput

PARAM_TYPES: tuple[str, ...] = ("string", "integer", "number", "boolean", "date", "choice")
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
DECLARATION_KEYS = frozenset({"name", "type", "default", "required", "choices", "description"})

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True)
class ParamProblem:
    """One thing wrong with a declaration; `field` is e.g. `params.region.default`."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


def check_declarations(decls: object) -> list[ParamProblem]:
    """Every problem with a list of declarations (empty when it is good)."""
    if not isinstance(decls, Sequence) or isinstance(decls, str | bytes):
        return [ParamProblem("params", "must be a list of parameter declarations")]
    problems: list[ParamProblem] = []
    seen: set[str] = set()
    for index, decl in enumerate(decls):
        problems.extend(_check_one(index, decl, seen))
    return problems


def require_valid_declarations(decls: object) -> None:
    """InvalidInput for the first problem of `check_declarations`, if any."""
    problems = check_declarations(decls)
    if problems:
        raise InvalidInput(problems[0].field, problems[0].problem)


def normalized_declarations(decls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Valid declarations in their stored shape: every key present, the default typed."""
    require_valid_declarations(decls)
    result: list[dict[str, Any]] = []
    for decl in decls:
        default = decl.get("default")
        result.append(
            {
                "name": decl["name"],
                "type": decl["type"],
                "default": None if default is None else coerce_value(decl, default),
                "required": bool(decl.get("required", False)),
                "choices": list(decl["choices"]) if decl.get("choices") is not None else None,
                "description": decl.get("description") or "",
            }
        )
    return result


def resolve_values(
    decls: Sequence[Mapping[str, Any]], given: Mapping[str, object]
) -> dict[str, object]:
    """Typed values for every declared parameter that has one (given, else default).

    A value of None (or empty text for a non-text type: an empty form field) counts as not
    given. Raises InvalidInput naming `params.NAME` for an undeclared name, a bad value or a
    required parameter without a value."""
    by_name = {str(d["name"]): d for d in decls}
    for name in given:
        if name not in by_name:
            raise InvalidInput(f"params.{name}", "no such parameter is declared")
    values: dict[str, object] = {}
    for name, decl in by_name.items():
        raw = given.get(name)
        if _is_blank(decl, raw):
            raw = decl.get("default")
        if raw is None:
            if decl.get("required"):
                raise InvalidInput(f"params.{name}", "a value is required")
            continue
        values[name] = coerce_value(decl, raw)
    return values


def defaults_of(decls: Sequence[Mapping[str, Any]]) -> dict[str, object]:
    """The declared defaults (a scheduled run's values); a required parameter without a
    default has no value, so a placeholder naming it fails the run when it is dispatched."""
    values: dict[str, object] = {}
    for decl in decls:
        if decl.get("default") is not None:
            try:
                values[str(decl["name"])] = coerce_value(decl, decl["default"])
            except InvalidInput:
                continue
    return values


def coerce_value(decl: Mapping[str, Any], raw: object) -> object:
    """`raw` as a value of the declared type, or InvalidInput naming `params.NAME`."""
    name = decl.get("name")
    kind = decl.get("type")
    try:
        if kind == "choice":
            return _choice(raw, decl.get("choices") or [])
        return _COERCERS[str(kind)](raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(f"params.{name}", str(exc)) from None


def env_name(name: str) -> str:
    """The environment variable carrying a parameter: ALMANAC_PARAM_<NAME upper-cased>."""
    return f"ALMANAC_PARAM_{name.upper()}"


def as_text(value: object) -> str:
    """A parameter value as the text a command sees (environment, placeholders)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_one(index: int, decl: object, seen: set[str]) -> list[ParamProblem]:
    if not isinstance(decl, Mapping):
        return [ParamProblem(f"params[{index}]", "must be an object")]
    name = decl.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return [
            ParamProblem(
                f"params[{index}].name",
                "must be a letter or _ then letters, digits or _ (at most 64)",
            )
        ]
    field = f"params.{name}"
    if name.upper() in seen:
        return [ParamProblem(field, "declared twice (names must differ in more than case)")]
    seen.add(name.upper())
    extra = sorted(set(decl) - DECLARATION_KEYS)
    if extra:
        return [ParamProblem(f"{field}.{extra[0]}", "unknown key")]
    kind = decl.get("type", None)
    if kind not in PARAM_TYPES:
        return [ParamProblem(f"{field}.type", f"must be one of {', '.join(PARAM_TYPES)}")]
    problems = _check_choices(field, kind, decl.get("choices"))
    if not isinstance(decl.get("required", False), bool):
        problems.append(ParamProblem(f"{field}.required", "must be true or false"))
    if not isinstance(decl.get("description") or "", str):
        problems.append(ParamProblem(f"{field}.description", "must be text"))
    if not problems and decl.get("default") is not None:
        try:
            coerce_value(decl, decl["default"])
        except InvalidInput as exc:
            problems.append(ParamProblem(f"{field}.default", exc.problem))
    return problems


def _check_choices(field: str, kind: str, choices: object) -> list[ParamProblem]:
    if kind != "choice":
        if choices is not None:
            return [ParamProblem(f"{field}.choices", "only a choice parameter has choices")]
        return []
    if (
        not isinstance(choices, list)
        or not choices
        or not all(isinstance(c, str) and c for c in choices)
    ):
        return [ParamProblem(f"{field}.choices", "a choice needs a list of non-empty texts")]
    if len(set(choices)) != len(choices):
        return [ParamProblem(f"{field}.choices", "lists a choice twice")]
    return []


def _is_blank(decl: Mapping[str, Any], raw: object) -> bool:
    if raw is None:
        return True
    return decl.get("type") != "string" and isinstance(raw, str) and not raw.strip()


def _string(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected text, got {raw!r}")
    return raw


def _integer(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"expected an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d+\s*", raw):
        return int(raw)
    raise ValueError(f"expected an integer, got {raw!r}")


def _number(raw: object) -> int | float:
    if isinstance(raw, bool):
        raise ValueError(f"expected a number, got {raw!r}")
    if isinstance(raw, int):
        return raw
    value: float
    if isinstance(raw, float):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
    else:
        raise ValueError(f"expected a number, got {raw!r}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {raw!r}")
    return value


def _boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _date(raw: object) -> str:
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
        try:
            return date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            pass
    raise ValueError(f"expected a date YYYY-MM-DD, got {raw!r}")


def _choice(raw: object, choices: Sequence[object]) -> str:
    if not isinstance(raw, str) or raw not in choices:
        listed = ", ".join(str(c) for c in choices)
        raise ValueError(f"{raw!r} is not one of {listed}")
    return raw


_COERCERS = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
}


# ---- groups: a group run's values reach its tasks ------------------------------------------
def check_group_given(
    group_decls: Sequence[Mapping[str, Any]],
    task_decls: Sequence[Sequence[Mapping[str, Any]]],
    given: Mapping[str, object],
) -> None:
    """InvalidInput naming `params.NAME` for a value that neither the group nor any of its
    tasks declares, or that does not fit the declarations that do."""
    declared: dict[str, list[Mapping[str, Any]]] = {}
    for decl in [*group_decls, *(d for decls in task_decls for d in decls)]:
        declared.setdefault(str(decl["name"]), []).append(decl)
    for name, value in given.items():
        if name not in declared:
            raise InvalidInput(f"params.{name}", "no such parameter is declared")
        for decl in declared[name]:
            if not _is_blank(decl, value):
                coerce_value(decl, value)
    resolve_values(group_decls, _only(group_decls, given))


def group_values(
    group_decls: Sequence[Mapping[str, Any]], given: Mapping[str, object]
) -> dict[str, object]:
    """The group's own values: the given ones it declares, else its defaults."""
    return resolve_values(group_decls, _only(group_decls, given))


def task_values_in_group(
    task_decls: Sequence[Mapping[str, Any]],
    group_resolved: Mapping[str, object],
    given: Mapping[str, object],
) -> dict[str, object]:
    """A task's values in a group run. Precedence, highest first: the value given for the
    group run, the group's value (its default), the task's default. The task run sees the
    group's values too, also those its task does not declare."""
    wanted = {**group_resolved, **given}
    return {**group_resolved, **resolve_values(task_decls, _only(task_decls, wanted))}


def _only(decls: Sequence[Mapping[str, Any]], given: Mapping[str, object]) -> dict[str, object]:
    names = {str(d["name"]) for d in decls}
    return {k: v for k, v in given.items() if k in names}
