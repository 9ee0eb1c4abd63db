"""Declared parameters (on tasks and groups) and the body of a force run that sets them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.domain.params import check_declarations, normalized_declarations
from app.models.admission_schemas import Priority

_DECLARATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "type"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"},
        "type": {
            "type": "string",
            "enum": ["string", "integer", "number", "boolean", "date", "choice"],
        },
        "default": {},
        "required": {"type": "boolean", "default": False},
        "choices": {"type": ["array", "null"], "items": {"type": "string"}},
        "description": {"type": "string", "default": ""},
    },
}


def _declarations(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    problems = check_declarations(value)
    if problems:
        raise ValueError(str(problems[0]))
    return normalized_declarations(value)


# Every key present once stored (normalized), so an export imports back identical.
ParamDeclarations = Annotated[
    list[dict[str, Any]],
    AfterValidator(_declarations),
    Field(max_length=200, json_schema_extra={"items": _DECLARATION_SCHEMA}),
]

ParamValues = Annotated[dict[str, Any], Field(max_length=200)]


class RunRequest(BaseModel):
    """Optional body of `POST /tasks/{tid}/run` and `POST /groups/{gid}/run`: the business
    date to run for (default: today in the task's or group's timezone) and parameter values
    (checked against the declarations; a bad one is a 422 naming `params.NAME`)."""

    model_config = ConfigDict(extra="forbid")

    business_date: date | None = None
    params: ParamValues = Field(default_factory=dict)
    # This run's priority instead of the task's (operators and above; app/domain/admission.py).
    priority: Priority | None = None


class TaskRunRequest(RunRequest):
    """`POST /tasks/{tid}/run`'s body: a RunRequest, and `agent` to run this one run on that
    agent instead of the task's target ("adhoc on a task"; the agent must be known)."""

    agent: str | None = Field(default=None, min_length=1, max_length=200)


class RerunRequest(BaseModel):
    """Optional body of `POST /runs/{id}/rerun`: new parameter values for the re-run run
    (left out: it keeps the values it ran with)."""

    model_config = ConfigDict(extra="forbid")

    params: ParamValues | None = None
