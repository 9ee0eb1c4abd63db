"""Schedule models (DESIGN.md "Schedules and calendars"): validated, JSON round-trippable.

Each validator raises a PydanticCustomError whose message starts with the field name, and
pydantic puts the field in the error's `loc`, so API errors can name field and problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from app.domain._cron import parse_cron
from app.domain._days import normalize_days, parse_days
from app.domain._walltime import check_zone_name, parse_wall_time

OnClosed = Literal["skip", "next_open_day", "previous_open_day"]
# DST rules (docs/reference/schedules.md): a wall time the clock skips, one it repeats, and
# whether interval-like schedules keep elapsed time across a change (Vixie cron's rule).
DstGap = Literal["run_after_gap", "skip"]
DstFold = Literal["first", "second", "both"]
DstInterval = Literal["elapsed", "wall_clock"]


def _refuse(field: str, exc: ValueError) -> PydanticCustomError:
    context = {"field": field, "detail": str(exc)}
    return PydanticCustomError(f"invalid_{field}", "{field}: {detail}", context)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScheduleBase(_Model):
    timezone: str = "UTC"
    calendar: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    on_closed: OnClosed = "skip"
    dst_gap: DstGap = "run_after_gap"
    dst_fold: DstFold = "first"
    dst_interval: DstInterval = "elapsed"

    @property
    def interval_like(self) -> bool:
        """Runs every so often rather than at fixed times (a frequency; a cron with a
        wildcard or step in its second, minute or hour field)."""
        return False

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            check_zone_name(value)
        except ValueError as exc:
            raise _refuse("timezone", exc) from None
        return value

    @field_validator("end_date")
    @classmethod
    def _check_end_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if value is not None and start is not None and value < start:
            raise _refuse("end_date", ValueError(f"{value} is before start_date {start}"))
        return value


def _valid_days(value: str) -> str:
    try:
        parse_days(value)
    except ValueError as exc:
        raise _refuse("days", exc) from None
    return normalize_days(value)


def _check_clock(field: str, value: str) -> str:
    try:
        parse_wall_time(value)
    except ValueError as exc:
        raise _refuse(field, exc) from None
    return value


class CronSchedule(ScheduleBase):
    kind: Literal["cron"]
    cron: str

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        try:
            parse_cron(value)
        except ValueError as exc:
            raise _refuse("cron", exc) from None
        return " ".join(value.split())

    @property
    def interval_like(self) -> bool:
        return parse_cron(self.cron).interval_like


class TimesSchedule(ScheduleBase):
    kind: Literal["times"]
    # Each item is checked on its own so an error's loc ends with the item's index.
    times: list[Annotated[str, AfterValidator(lambda item: _check_clock("times", item))]]
    days: str = "mon-sun"

    @field_validator("times")
    @classmethod
    def _check_times(cls, value: list[str]) -> list[str]:
        if not value:
            raise _refuse("times", ValueError("at least one time is required"))
        return value

    @field_validator("days")
    @classmethod
    def _check_days(cls, value: str) -> str:
        return _valid_days(value)


class Window(_Model):
    start: str
    end: str

    @field_validator("start")
    @classmethod
    def _check_start(cls, value: str) -> str:
        return _check_clock("start", value)

    @field_validator("end")
    @classmethod
    def _check_end(cls, value: str, info: ValidationInfo) -> str:
        _check_clock("end", value)
        start = info.data.get("start")
        if start is not None and parse_wall_time(value) < parse_wall_time(start):
            raise _refuse("end", ValueError(f"{value} is before the window start {start}"))
        return value


class FrequencySchedule(ScheduleBase):
    kind: Literal["frequency"]
    every_minutes: int = Field(ge=1, le=1440)
    window: Window | None = None  # None: the whole day, counted from 00:00
    days: str = "mon-sun"

    @property
    def interval_like(self) -> bool:
        return True

    @field_validator("days")
    @classmethod
    def _check_days(cls, value: str) -> str:
        return _valid_days(value)


class OnceSchedule(ScheduleBase):
    kind: Literal["once"]
    at: datetime  # naive: wall clock in `timezone`; aware: that exact instant


Schedule = Annotated[
    CronSchedule | TimesSchedule | FrequencySchedule | OnceSchedule, Field(discriminator="kind")
]
_ADAPTER: TypeAdapter[Schedule] = TypeAdapter(Schedule)


_KINDS = ("cron", "times", "frequency", "once")


def parse_schedule(data: Mapping[str, Any]) -> Schedule:
    """Validate a schedule dict; pydantic.ValidationError's `loc` names the bad field."""
    kind = data.get("kind")
    if kind not in _KINDS:
        # pydantic reports a bad discriminator at loc (); we want the error to name `kind`.
        detail = f"{kind!r} is not one of {', '.join(_KINDS)}"
        error = _refuse("kind", ValueError(detail))
        raise ValidationError.from_exception_data(
            "Schedule", [InitErrorDetails(type=error, loc=("kind",), input=kind)]
        )
    return _ADAPTER.validate_python(dict(data))


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    """JSON-ready dict without defaults (`kind` always kept), stable across round trips."""
    data: dict[str, Any] = schedule.model_dump(mode="json", exclude_defaults=True)
    return {"kind": schedule.kind, **data}
