"""The timing columns of tasks and groups (`schedule`, `schedules`, `blackouts`): stored
as canonical JSON, checked against the calendars and against never firing.

A schedule with no occurrence in the next 8 years is refused, naming the field that makes
it so (`schedule.at` of a past `once`, `schedule.cron` of `0 0 30 2 *`, `schedule.end_date`
in the past, `schedules[1].calendar` that closes every day it would fire).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from app.db.calendars import calendar_spec, check_calendar_reference
from app.domain._walltime import load_zone
from app.domain.blackouts import blackout_to_dict
from app.domain.schedules import OnceSchedule, Schedule, parse_schedule, schedule_to_dict
from app.domain.triggers import next_fire_time
from app.errors import InvalidInput

TIMING_FIELDS = ("schedule", "schedules", "blackouts")


def timing_values(values: dict[str, Any]) -> dict[str, Any]:
    """Models (or JSON) of the timing fields as stored JSON; null lists become empty."""
    if values.get("schedule") is not None and not isinstance(values["schedule"], dict):
        values["schedule"] = schedule_to_dict(values["schedule"])
    if "schedules" in values:
        values["schedules"] = [
            item if isinstance(item, dict) else schedule_to_dict(item)
            for item in values["schedules"] or []
        ]
    if "blackouts" in values:
        values["blackouts"] = [
            item if isinstance(item, dict) else blackout_to_dict(item)
            for item in values["blackouts"] or []
        ]
    return values


def check_timing(
    session: Session,
    schedule: dict[str, Any] | None,
    schedules: list[dict[str, Any]],
    *,
    now: datetime,
) -> None:
    """InvalidInput naming the field when a schedule names an unknown calendar, extra
    schedules come without a main one, or a schedule can never fire again."""
    if schedules and not schedule:
        raise InvalidInput("schedules", "extra schedules need a main `schedule`")
    labelled = [("schedule", schedule)] if schedule else []
    labelled += [(f"schedules[{i}]", item) for i, item in enumerate(schedules)]
    for label, data in labelled:
        try:
            check_calendar_reference(session, data)
        except InvalidInput as exc:
            raise InvalidInput(f"{label}.calendar", exc.problem) from None
        parsed = parse_schedule(data)
        calendar = calendar_spec(session, parsed.calendar) if parsed.calendar else None
        if next_fire_time(parsed, now, calendar) is None:
            field, problem = _why_never(parsed, now, calendar is not None)
            raise InvalidInput(f"{label}.{field}", problem)


def _why_never(schedule: Schedule, now: datetime, has_calendar: bool) -> tuple[str, str]:
    if isinstance(schedule, OnceSchedule):
        return "at", f"{schedule.at.isoformat()} is not in the future: it would never fire"
    today = now.astimezone(load_zone(schedule.timezone)).date()
    if schedule.end_date is not None and schedule.end_date < today:
        return "end_date", f"{schedule.end_date} is in the past: it would never fire"
    unbounded = schedule.model_copy(update={"start_date": None, "end_date": None})
    if next_fire_time(unbounded, now) is None:
        field = "cron" if schedule.kind == "cron" else "days"
        return field, "matches no date in the next 8 years: it would never fire"
    if has_calendar and next_fire_time(schedule.model_copy(update={"calendar": None}), now):
        return "calendar", "the calendar closes every day it would fire in the next 8 years"
    return "end_date", "no occurrence between start_date and end_date: it would never fire"
