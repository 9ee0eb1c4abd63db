"""A cron expression read out in plain words ("At 08:30, Monday through Friday")."""

from __future__ import annotations

import calendar

from app.domain._cron import normalise, parse_cron

_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_DAY_NAMES = {d[:3].lower(): i for i, d in enumerate(_DAYS[:7])}
_ORDINALS = {"1": "first", "2": "second", "3": "third", "4": "fourth", "5": "fifth"}
_MONTHS = list(calendar.month_name)
_MONTH_NAMES = {m[:3].lower(): i for i, m in enumerate(_MONTHS) if m}


def describe(expression: str) -> str:
    """Plain words for a valid expression; ValueError (from the parser) for an invalid one."""
    parse_cron(expression)
    fields = normalise(expression)
    quartz = len(fields) > 5  # sec min hour dom mon dow [year], day-of-week 1 = Sunday
    minute, hour, dom, month, dow = fields[1:6] if quartz else fields
    second = fields[0] if quartz else "0"
    year = fields[6] if len(fields) == 7 else "*"
    when = _with_seconds(second, minute, hour, _time(minute, hour))
    days = _days(dom.replace("?", "*"), dow.replace("?", "*"), quartz)
    days = days or ("every day" if when.startswith("at ") else "")
    parts = [when, days, _months(month), "" if year == "*" else f"in {year}"]
    sentence = ", ".join(p for p in parts if p)
    return sentence[:1].upper() + sentence[1:]


def _with_seconds(second: str, minute: str, hour: str, when: str) -> str:
    if second == "0":
        return when
    if minute == "*" and hour == "*":
        every = _step(second)
        if second == "*" or every == "1":
            return "every second"
        if every:
            return f"every {every} seconds"
    return f"at second {second}, {when}"


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


def _days(dom: str, dow: str, quartz: bool) -> str:
    weekdays = _weekdays(dow, quartz) if dow != "*" else ""
    monthdays = _monthdays(dom) if dom != "*" else ""
    if weekdays and monthdays:
        return f"{monthdays} or {weekdays}"
    return weekdays or monthdays


def _monthdays(dom: str) -> str:
    plain, special = [], []
    for item in dom.upper().split(","):
        if item == "L":
            special.append("the last day of the month")
        elif item == "LW":
            special.append("the last weekday of the month")
        elif item.startswith("L-"):
            special.append(f"{item[2:]} days before the last day of the month")
        elif item.endswith("W"):
            special.append(f"the weekday nearest day {item[:-1]}")
        else:
            plain.append(item)
    words = [f"day {_join(plain)} of the month"] if plain else []
    return "on " + _join(words + special)


def _weekdays(dow: str, quartz: bool) -> str:
    names = []
    for item in dow.split(","):
        start, sep, end = item.partition("-")
        nth, hash_sign, week = item.partition("#")
        if sep:
            names.append(f"{_day(start, quartz)} through {_day(end, quartz)}")
        elif hash_sign and week in _ORDINALS:
            names.append(f"the {_ORDINALS[week]} {_day(nth, quartz)} of the month")
        elif len(item) > 1 and item.upper().endswith("L"):
            names.append(f"the last {_day(item[:-1], quartz)} of the month")
        else:
            names.append(_day(item, quartz))
    return "on " + _join(names) if len(names) > 1 or "through" not in names[0] else names[0]


def _day(text: str, quartz: bool = False) -> str:
    text = text.lower()
    if text == "l":
        return "Saturday"
    index = _DAY_NAMES.get(text[:3]) if not text.isdigit() else int(text) - quartz
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
