"""Blackout windows: spans during which a task's or group's occurrences are skipped.

A blackout is a date range (`start_date`..`end_date`, both included), a daily time window
(`start` included .. `end` excluded; `end` before `start` runs past midnight, the window
belonging to the day it starts), optionally on given weekdays (`days`), or a window within
a date range. Times are read in the blackout's `timezone`, or the occurrence's schedule's.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.domain._days import WeekdaySet, parse_days
from app.domain._walltime import check_zone_name, load_zone, parse_wall_time

BlackoutName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]


def _refuse(field: str, detail: str) -> PydanticCustomError:
    return PydanticCustomError(
        f"invalid_{field}", "{field}: {detail}", {"field": field, "detail": detail}
    )


class Blackout(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: BlackoutName
    start_date: date | None = None
    end_date: date | None = None
    start: str | None = None
    end: str | None = None
    days: str | None = None
    timezone: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _check_clock(cls, value: str | None, info: Any) -> str | None:
        if value is not None:
            try:
                parse_wall_time(value)
            except ValueError as exc:
                raise _refuse(info.field_name, str(exc)) from None
        return value

    @field_validator("days")
    @classmethod
    def _check_days(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            spec = parse_days(value)
        except ValueError as exc:
            raise _refuse("days", str(exc)) from None
        if not isinstance(spec, WeekdaySet):
            raise _refuse("days", f"{value!r}: a blackout takes weekdays, e.g. 'sat,sun'")
        return " ".join(value.lower().split())

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_zone_name(value)
            except ValueError as exc:
                raise _refuse("timezone", str(exc)) from None
        return value

    @model_validator(mode="after")
    def _check_shape(self) -> Blackout:
        if (self.start_date is None) != (self.end_date is None):
            missing = "end_date" if self.end_date is None else "start_date"
            raise _refuse(missing, "a date range needs both start_date and end_date")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise _refuse("end_date", f"{self.end_date} is before start_date {self.start_date}")
        if (self.start is None) != (self.end is None):
            missing = "end" if self.end is None else "start"
            raise _refuse(missing, "a daily window needs both start and end")
        if self.start is not None and self.start == self.end:
            raise _refuse("end", "the window is empty (end equals start)")
        if self.days is not None and self.start is None:
            raise _refuse("days", "days need a daily window (start, end)")
        if self.start_date is None and self.start is None:
            raise _refuse("start_date", "give a date range (start_date, end_date) or a window")
        return self

    def covers(self, local: datetime) -> bool:
        """Whether an occurrence at `local` (aware, in its schedule's zone) is blacked out."""
        if self.timezone is not None:
            local = local.astimezone(load_zone(self.timezone))
        day = local.date()
        if self.start_date is not None and self.end_date is not None:
            if not self.start_date <= day <= self.end_date:
                return False
        if self.start is None or self.end is None:
            return True
        wall = time(local.hour, local.minute, local.second, local.microsecond)
        start, end = _wall(self.start), _wall(self.end)
        if start < end:
            return start <= wall < end and self._on(day)
        # Past midnight: the evening part belongs to `day`, the morning part to the day before.
        return (wall >= start and self._on(day)) or (
            wall < end and self._on(day - timedelta(days=1))
        )

    def _on(self, day: date) -> bool:
        if self.days is None:
            return True
        return day.weekday() in _weekdays(self.days)


# Read once per distinct text: a forecast asks for every occurrence it lists.
@lru_cache(maxsize=1024)
def _wall(text: str) -> time:
    return parse_wall_time(text)


@lru_cache(maxsize=1024)
def _weekdays(text: str) -> frozenset[int]:
    spec = parse_days(text)
    assert isinstance(spec, WeekdaySet)
    return frozenset(spec.weekdays)


def blackout_to_dict(blackout: Blackout) -> dict[str, Any]:
    data: dict[str, Any] = blackout.model_dump(mode="json", exclude_none=True)
    return data


def _unique_names(blackouts: list[Blackout]) -> list[Blackout]:
    seen: set[str] = set()
    for index, blackout in enumerate(blackouts):
        if blackout.name in seen:
            raise _refuse(f"blackouts[{index}].name", f"{blackout.name!r} is used twice")
        seen.add(blackout.name)
    return blackouts


# The `blackouts` field of tasks and groups: names are unique (reasons name them).
BlackoutList = Annotated[list[Blackout], Field(max_length=100), AfterValidator(_unique_names)]
