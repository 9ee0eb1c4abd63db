"""`POST /import/crontab`: a crontab's text and options in, the tasks it makes (or would
make) and the lines it cannot translate out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.domain._walltime import load_zone
from app.models.schemas import Name, PathName, _Strict


class CrontabImportRequest(_Strict):
    text: str = Field(max_length=1_000_000, description="The crontab, as `crontab -l` prints it.")
    format: Literal["user", "system"] = Field(
        default="user",
        description="user: `crontab -l`; system: /etc/crontab and /etc/cron.d (a user column).",
    )
    timezone: str = Field(default="UTC", description="Until a CRON_TZ line says otherwise.")
    prefix: str = Field(default="", max_length=100, description="Put before every task name.")
    group: Name | None = Field(
        default=None, description="Tags every task with the label group=NAME."
    )
    instance: PathName = "default"
    skip_untranslatable: bool = Field(
        default=False,
        description="Import the lines that translate and leave the others out (listed); "
        "without it any untranslatable line refuses the whole import.",
    )

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            load_zone(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if "/" in value or "\\" in value or any(ord(ch) < 32 for ch in value):
            raise ValueError("must not contain '/', '\\' or control characters")
        return value


class CrontabTaskPublic(BaseModel):
    line: int
    name: str
    command: str
    schedule: dict[str, Any]
    env: dict[str, str]
    run_as_user: str | None
    description: str
    notes: list[str] = Field(description="What was not translated (MAILTO), and why.")


class CrontabLineRefused(BaseModel):
    line: int
    text: str
    reason: str


class CrontabImportReport(BaseModel):
    dry_run: bool
    applied: bool
    instance: str
    tasks: list[CrontabTaskPublic]
    untranslatable: list[CrontabLineRefused]
    message: str
