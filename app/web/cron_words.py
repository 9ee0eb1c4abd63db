"""A cron expression read out in plain words ("At 08:30, Monday through Friday")."""

from __future__ import annotations

import calendar

from app.domain._cron import parse_cron

_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_DAY_NAMES = {d[:3].lower(): i for i, d in enumerate(_DAYS[:7])}
_MONTHS = list(calendar.month_name)
_MONTH_NAMES = {m[:3].lower(): i for i, m in enumerate(_MONTHS) if m}
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def describe(expression: str) -> str:
    """Plain words for a valid expression; ValueError (from the parser) for an invalid one."""
    parse_cron(expression)
    text = _MACROS.get(expression.strip().lower(), expression)
    minute, hour, dom, month, dow = text.split()
    when = _time(minute, hour)
    days = _days(dom, dow) or ("every day" if when.startswith("at ") else "")
    parts = [when, days, _months(month)]
    sentence = ", ".join(p for p in parts if p)
    return sentence[:1].upper() + sentence[1:]


def _is_number(field: str) -> bool:
    return field.isdigit()


def _time(minute: str, hour: str) -> str:
    if _is_number(minute) and _is_number(hour):
        return f"at {int(hour):02d}:{int(minute):02d}"
    if _is_number(minute) and all(_is_number(h) for h in hour.split(",")):
        return "at " + _join([f"{int(h):02d}:{int(minute):02d}" for h in hour.split(",")])
    if all(_is_number(m) for m in minute.split(",")) and _is_number(hour):
        return "at " + _join([f"{int(hour):02d}:{int(m):02d}" for m in minute.split(",")])
    every = _step(minute)
    if every and hour == "*":
        return f"every {every} minutes" if every != "1" else "every minute"
    if minute == "*" and hour == "*":
        return "every minute"
    if every or minute == "*":
        what = "every minute" if minute == "*" else f"every {every} minutes"
        return f"{what} {_hours(hour)}"
    if _is_number(minute):
        hourly = _step(hour)
        if hour == "*":
            return f"at minute {int(minute)} of every hour"
        if hourly:
            return f"at minute {int(minute)} every {hourly} hours"
        return f"at minute {int(minute)} {_hours(hour)}"
    return f"at minute {minute} {_hours(hour)}"


def _step(field: str) -> str | None:
    base, sep, step = field.partition("/")
    return step if sep and base in ("*", "0") and step.isdigit() else None


def _hours(hour: str) -> str:
    start, sep, end = hour.partition("-")
    if sep and start.isdigit() and end.isdigit():
        return f"from {int(start):02d}:00 to {int(end):02d}:59"
    return f"during hour {hour}"


def _days(dom: str, dow: str) -> str:
    weekdays = _weekdays(dow) if dow != "*" else ""
    monthdays = f"on day {_join(dom.split(','))} of the month" if dom != "*" else ""
    if weekdays and monthdays:
        return f"{monthdays} or {weekdays}"
    return weekdays or monthdays


def _weekdays(dow: str) -> str:
    names = []
    for item in dow.split(","):
        start, sep, end = item.partition("-")
        if sep:
            names.append(f"{_day(start)} through {_day(end)}")
        else:
            names.append(_day(item))
    return "on " + _join(names) if len(names) > 1 or "through" not in names[0] else names[0]


def _day(text: str) -> str:
    text = text.lower()
    index = _DAY_NAMES.get(text[:3]) if not text.isdigit() else int(text)
    return _DAYS[index] if index is not None and 0 <= index <= 7 else text


def _months(month: str) -> str:
    if month == "*":
        return ""
    names = []
    for item in month.split(","):
        start, sep, end = item.partition("-")
        names.append(f"{_month(start)} through {_month(end)}" if sep else _month(item))
    return "in " + _join(names)


def _month(text: str) -> str:
    index = int(text) if text.isdigit() else _MONTH_NAMES.get(text.lower()[:3])
    return _MONTHS[index] if index and 1 <= index <= 12 else text


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
