"""The schedule builder's live preview: the draft schedule checked by the domain's own
validation and its next fire times forecast, or the field that is wrong and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import Engine

from app.db.calendars import calendar_spec
from app.db.engine import session_scope
from app.domain.blackouts import Blackout
from app.domain.calendars import CalendarSpec
from app.domain.error_words import plain_problem
from app.domain.schedules import Schedule, parse_schedule
from app.domain.timing import Timing, timing_forecast
from app.domain.triggers import Occurrence, SkippedOccurrence
from app.errors import NotFound
from app.web.cron_words import describe
from app.web.schedule_form import (
    FormErrors,
    Values,
    schedule_error_key,
    schedule_from_form,
    timing_lists_from_form,
)

COUNT = 5


@dataclass
class Preview:
    schedule: Schedule | None = None
    occurrences: list[Occurrence] = field(default_factory=list)
    skipped: list[SkippedOccurrence] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # form field → problem
    words: str | None = None  # a cron expression in plain words

    @property
    def empty(self) -> bool:
        return self.schedule is None and not self.errors


def preview(engine: Engine, values: Values, now: datetime) -> Preview:
    try:
        data = schedule_from_form(values)
    except FormErrors as exc:
        return Preview(errors=exc.errors)
    if data is None:
        return Preview()
    try:
        schedule = parse_schedule(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            key = schedule_error_key(tuple(error["loc"]))
            errors.setdefault(key, _message(plain_problem(error)))
        return Preview(errors=errors)
    try:
        timing = _timing(schedule, values)
    except FormErrors as exc:
        return Preview(errors=exc.errors)
    calendars: dict[str, CalendarSpec] = {}
    for each in timing.schedules:
        if each.calendar and each.calendar not in calendars:
            try:
                with session_scope(engine) as session:
                    calendars[each.calendar] = calendar_spec(session, each.calendar)
            except NotFound:
                field = "sched_calendar" if each is schedule else "extra_schedules"
                return Preview(errors={field: f"unknown calendar {each.calendar!r}"})
    result = timing_forecast(timing, now, COUNT, lambda each: calendars.get(each.calendar or ""))
    words = describe(schedule.cron) if schedule.kind == "cron" else None
    return Preview(
        schedule=schedule,
        occurrences=result.occurrences,
        skipped=result.skipped[:COUNT],
        words=words,
    )


def _timing(schedule: Schedule, values: Values) -> Timing:
    """The draft's main schedule with its extra schedules and blackouts (FormErrors names
    the textarea whose line is wrong)."""
    lists = timing_lists_from_form(values)
    extra: list[Schedule] = []
    for number, item in enumerate(lists["schedules"], start=1):
        try:
            extra.append(parse_schedule(item))
        except ValidationError as exc:
            problem = _message(exc.errors()[0]["msg"])
            raise FormErrors({"extra_schedules": f"line {number}: {problem}"}) from None
    blackouts: list[Blackout] = []
    for number, item in enumerate(lists["blackouts"], start=1):
        try:
            blackouts.append(Blackout.model_validate(item))
        except ValidationError as exc:
            raise FormErrors({"blackouts": f"line {number}: {exc.errors()[0]['msg']}"}) from None
    return Timing((schedule, *extra), tuple(blackouts))


def _message(text: str) -> str:
    """Drop the field name the domain puts first ("cron: minute field ..." → "minute ...")."""
    head, sep, rest = text.partition(": ")
    return rest if sep and " " not in head else text
