"""The "Run for date" form of a task or group: fields generated from the declared params,
read back into a RunRequest, and checked field by field as the user types."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.domain.params import as_text, coerce_value
from app.errors import InvalidInput

DATE_FIELD = "business_date"
AGENT_FIELD = "agent"  # adhoc on a task: run on this agent instead of its target
PREFIX = "param."  # form field of a parameter: "param.NAME"


@dataclass(frozen=True)
class ParamField:
    name: str
    field: str  # the form field's name
    type: str  # string | integer | number | boolean | date | choice
    label: str
    value: str  # the default, as the input shows it
    required: bool
    choices: list[str]
    description: str


def merged_declarations(*lists: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One declaration a name, the first list's winning (a group's over its tasks')."""
    seen: dict[str, Mapping[str, Any]] = {}
    for decls in lists:
        for decl in decls:
            seen.setdefault(str(decl["name"]), decl)
    return list(seen.values())


def form_fields(decls: Sequence[Mapping[str, Any]]) -> list[ParamField]:
    return [
        ParamField(
            name=str(d["name"]),
            field=PREFIX + str(d["name"]),
            type=str(d["type"]),
            label=str(d["name"]),
            value="" if d.get("default") is None else as_text(d["default"]),
            required=bool(d.get("required")),
            choices=list(d.get("choices") or []),
            description=str(d.get("description") or ""),
        )
        for d in decls
    ]


def request_from_form(
    decls: Sequence[Mapping[str, Any]], form: Mapping[str, str]
) -> dict[str, Any]:
    """The RunRequest body a submitted form stands for: empty fields are left out (the
    declared default applies); an unticked boolean is false."""
    body: dict[str, Any] = {}
    day = form.get(DATE_FIELD, "").strip()
    if day:
        body["business_date"] = day
    params: dict[str, Any] = {}
    for decl in decls:
        name = str(decl["name"])
        raw = form.get(PREFIX + name)
        if decl.get("type") == "boolean":
            params[name] = raw is not None and raw != ""
        elif raw is not None and raw.strip() != "":
            params[name] = raw
    if params:
        body["params"] = params
    return body


def form_errors(decls: Sequence[Mapping[str, Any]], form: Mapping[str, str]) -> dict[str, str]:
    """Every field of the form that is wrong, by form field name (as typed, not submitted)."""
    errors: dict[str, str] = {}
    day = form.get(DATE_FIELD, "").strip()
    if day:
        try:
            date.fromisoformat(day)
        except ValueError:
            errors[DATE_FIELD] = "not a date YYYY-MM-DD"
    given = request_from_form(decls, form).get("params", {})
    for decl in decls:
        name = str(decl["name"])
        if name in given:
            try:
                coerce_value(decl, given[name])
            except InvalidInput as exc:
                errors[PREFIX + name] = exc.problem
        elif decl.get("required") and decl.get("default") is None:
            errors[PREFIX + name] = "a value is required"
    return errors


# ---- the declarations editor of the task and group forms: one JSON list ---------------------
def declarations_from_text(text: str) -> list[Any]:
    """The "Parameters" field: empty, or a JSON list of declarations (checked by the API)."""
    if not text.strip():
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(value, list):
        raise ValueError('a JSON list, e.g. [{"name": "region", "type": "string"}]')
    return value


def declarations_to_text(decls: Sequence[Mapping[str, Any]] | None) -> str:
    if not decls:
        return ""
    return json.dumps(list(decls), indent=1)
