"""forecast() against a brute-force walk over UTC minutes, for random schedules and zones.

The brute force is written from the semantics alone, sharing no code with the trigger maths:
  1. list the nominal local (date, wall time) pairs from the generated parameters (the day
     rules and the cron sets are computed here, not parsed), and move or drop those on closed
     days;
  2. walk UTC minute by minute, noting each minute at which the local wall clock reads a
     nominal wall time exactly (its passes: two on a fall-back) and, for a wall time the clock
     jumps over, the first minute after the jump;
  3. apply the DST rules: interval-like schedules (frequency; cron with * or / in the minute
     or hour) fire on every pass and never in a gap (`dst_interval: elapsed`); the others fire
     on the first, second or both passes (`dst_fold`) and at the first minute after a gap or
     not at all (`dst_gap`); one instant fires once.
"""

from __future__ import annotations

import calendar as stdcal
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.calendars import CalendarSpec
from app.domain.schedules import parse_schedule
from app.domain.triggers import forecast

ZONES = [
    "UTC", "America/New_York", "Europe/Berlin", "Europe/London", "Australia/Lord_Howe",
    "Asia/Kathmandu", "America/Santiago", "Pacific/Apia", "Pacific/Chatham", "America/St_Johns",
    "Australia/Adelaide", "America/Havana", "Asia/Kolkata",
]  # fmt: skip
# Dates a few days before 2026 DST changes in those zones, so most walks cross one.
NEAR_CHANGES = [
    date(2026, 3, 5), date(2026, 3, 26), date(2026, 4, 1), date(2026, 9, 3),
    date(2026, 9, 24), date(2026, 10, 1), date(2026, 10, 22), date(2026, 10, 29),
]  # fmt: skip
HORIZON = timedelta(days=7)
NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}


@dataclass
class Case:
    data: dict[str, Any]  # the schedule as the API would get it
    wall_times: list[time]  # cron: times of matching days; once: the one time
    day_rule: Any  # callable(date, is_business) -> bool
    interval_like: bool = False  # a wildcard or step in minute or hour; a frequency


def pick(values: list[int], index: int) -> int | None:
    if index == -1:
        return values[-1] if values else None
    return values[index - 1] if len(values) >= index else None


def month_days(day: date) -> list[date]:
    return [day.replace(day=k) for k in range(1, stdcal.monthrange(day.year, day.month)[1] + 1)]


@st.composite
def day_rules(draw: st.DrawFn) -> tuple[str, Any]:
    # Weekday sets fire most days; ordinals once a month (weighted down, or most walks are empty).
    kind = draw(st.sampled_from(["set"] * 4 + ["range"] * 2 + ["nth", "day", "bday", "bday_n"]))
    if kind == "set":
        chosen = draw(st.sets(st.integers(0, 6), min_size=1))
        return ",".join(NAMES[i] for i in sorted(chosen)), lambda d, b: d.weekday() in chosen
    if kind == "range":
        a, b = draw(st.integers(0, 6)), draw(st.integers(0, 6))
        wanted = {(a + k) % 7 for k in range((b - a) % 7 + 1)}
        return f"{NAMES[a]}-{NAMES[b]}", lambda d, bus: d.weekday() in wanted
    n = draw(st.sampled_from([1, 2, 3, 4, 5, -1]))
    if kind == "nth":
        wd = draw(st.integers(0, 6))
        return (
            f"{ORDINALS[n]} {NAMES[wd]}",
            lambda d, b: d.day == pick([x.day for x in month_days(d) if x.weekday() == wd], n),
        )
    if kind == "day":
        return f"{ORDINALS[n]} day", lambda d, b: d.day == pick([x.day for x in month_days(d)], n)
    if kind == "bday_n":
        n = draw(st.integers(1, 23))
    text = f"business day {n}" if kind == "bday_n" else f"{ORDINALS[n]} business day"
    return text, lambda d, bus: d.day == pick([x.day for x in month_days(d) if bus(x)], n)


@st.composite
def cron_fields(
    draw: st.DrawFn, low: int, high: int, max_items: int, star: int = 5, end: int | None = None
) -> tuple[str, set[int]]:
    """A field's text and its values; `end` is where `*` and `a/n` stop (day-of-week: 6)."""
    end = high if end is None else end
    if draw(st.integers(0, 9)) < star:  # "*" or "*/n" in `star` of ten draws
        step = draw(st.integers(1, high - low + 1)) if draw(st.booleans()) else 1
        text = "*" if step == 1 else f"*/{step}"
        return text, set(range(low, end + 1, step))
    values: set[int] = set()
    parts = []
    for _ in range(draw(st.integers(1, max_items))):
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, min(high, a + 20)))
        step = draw(st.integers(1, 10))
        form = draw(st.sampled_from(["one", "range", "step", "from", "wrap"]))
        if form == "one":
            parts.append(str(a))
            values.add(a)
        elif form == "range":
            parts.append(f"{a}-{b}")
            values.update(range(a, b + 1))
        elif form == "step":
            parts.append(f"{a}-{b}/{step}")
            values.update(range(a, b + 1, step))
        elif form == "from":  # Vixie's a/n: from a to the end
            parts.append(f"{a}/{step}")
            values.update(range(a, max(a, end) + 1, step))
        else:  # a range whose end is below its start wraps round the field's cycle
            first = draw(st.integers(low + 1, end))
            last = draw(st.integers(low, first - 1))
            parts.append(f"{first}-{last}/{step}")
            values.update([*range(first, end + 1), *range(low, last + 1)][::step])
    return ",".join(parts), values


@st.composite
def day_specials(draw: st.DrawFn, weekday_base: int | None) -> tuple[str, Any]:
    """L, L-n, nW, LW in day-of-month (weekday_base None) or nL, n#k in day-of-week (numbered
    from weekday_base = Sunday), with the rule written out."""
    forms = ["L", "L-n", "W", "LW"] if weekday_base is None else ["nL", "#"]
    form = draw(st.sampled_from(forms))
    n = draw(st.integers(1, 31))
    wd = draw(st.integers(0, 6))  # 0 = Monday, as date.weekday()
    number = (wd + 1) % 7 + (weekday_base or 0)  # the dialect's number for that weekday
    weekdays_in = lambda d: [x for x in month_days(d) if x.weekday() < 5]  # noqa: E731
    if form == "L":
        return "L", lambda d: d.day == len(month_days(d))
    if form == "L-n":
        k = n % 10
        return f"L-{k}", lambda d: d.day == len(month_days(d)) - k
    if form == "W":
        return (
            f"{n}W",
            lambda d: (
                n <= len(month_days(d)) and d == min(weekdays_in(d), key=lambda x: abs(x.day - n))
            ),
        )
    if form == "LW":
        return "LW", lambda d: d == weekdays_in(d)[-1]
    if form == "nL":
        return f"{number}L", lambda d: d.weekday() == wd and d.day + 7 > len(month_days(d))
    k = draw(st.integers(1, 5))
    return f"{number}#{k}", lambda d: d.weekday() == wd and (d.day - 1) // 7 + 1 == k


def _years(part: str) -> range:
    if part == "*":
        return range(1, 10000)
    first, _, last = part.partition("-")
    return range(int(first), int(last or first) + 1)


# Half of the wall times fall in the hours where 2026's DST changes happen.
wall_times = st.one_of(
    st.builds(time, st.integers(0, 23), st.integers(0, 59)),
    st.builds(time, st.sampled_from([0, 1, 2, 3, 23]), st.integers(0, 59)),
)


@st.composite
def cases(draw: st.DrawFn, near: datetime) -> Case:
    """A random schedule; `near` (local, naive) is where the walk starts."""
    kind = draw(st.sampled_from(["cron", "times", "frequency", "once"]))
    if kind == "cron":
        # Vixie's 5 fields, or Quartz's 6-7 (seconds 0, day-of-week 1 = Sunday, a year field).
        quartz = draw(st.booleans())
        minute, minutes = draw(cron_fields(0, 59, 2).filter(lambda f: len(f[1]) <= 6))
        hour, hours = draw(cron_fields(0, 23, 3))
        dom, doms = draw(cron_fields(1, 31, 3, star=8))
        month, months = draw(cron_fields(1, 12, 2, star=8))
        if quartz:
            dow, quartz_dows = draw(cron_fields(1, 7, 2))
            dows = {d - 1 for d in quartz_dows}
        else:
            dow, dows = draw(cron_fields(0, 7, 2, end=6))
            dows = {d % 7 for d in dows}  # 7 is Sunday too
        dom_special = dow_special = None
        special = draw(st.sampled_from(["none"] * 6 + ["dom", "dow", "?dom", "?dow"]))
        if special == "dom":
            dom, dom_special = draw(day_specials(None))
        elif special == "dow":
            dow, dow_special = draw(day_specials(1 if quartz else 0))
        elif special == "?dom":
            dom, doms = "?", set(range(1, 32))
        elif special == "?dow":
            dow, dows = "?", set(range(7))
        years = draw(st.sampled_from(["*", "2026", "2025-2027", "2027", "2026,2028"]))
        years = years if quartz else "*"
        year_set = {y for part in years.split(",") for y in _years(part)}

        def cron_day(d: date, bus: Any) -> bool:
            dom_ok = d.day in doms if dom_special is None else dom_special(d)
            dow_ok = d.isoweekday() % 7 in dows if dow_special is None else dow_special(d)
            both = not dom.startswith(("*", "?")) and not dow.startswith(("*", "?"))
            return (
                d.month in months
                and d.year in year_set
                and ((dom_ok or dow_ok) if both else (dom_ok and dow_ok))
            )

        walls = [time(h, m) for h in sorted(hours) for m in sorted(minutes)]
        text = f"{minute} {hour} {dom} {month} {dow}"
        if quartz:
            text = f"0 {text}" + ("" if years == "*" and draw(st.booleans()) else f" {years}")
        stepped = any(c in f for f in (minute, hour) for c in "*/")
        return Case({"kind": "cron", "cron": text}, walls, cron_day, stepped)
    if kind == "once":
        at = near + timedelta(minutes=draw(st.integers(-1440, 8 * 1440)))
        at = at.replace(second=0, microsecond=0)
        return Case(
            {"kind": "once", "at": at.isoformat()}, [at.time()], lambda d, b: d == at.date()
        )
    days_text, rule = draw(day_rules())
    if kind == "times":
        walls = draw(st.lists(wall_times, min_size=1, max_size=4))
        texts = [w.strftime("%H:%M") for w in walls]
        return Case({"kind": "times", "times": texts, "days": days_text}, sorted(set(walls)), rule)
    every = draw(st.integers(5, 240))
    start, end = sorted(draw(st.lists(st.integers(0, 1439), min_size=2, max_size=2)))
    data: dict[str, Any] = {"kind": "frequency", "every_minutes": every, "days": days_text}
    if draw(st.booleans()):
        data["window"] = {
            "start": f"{start // 60:02}:{start % 60:02}",
            "end": f"{end // 60:02}:{end % 60:02}",
        }
    else:
        start, end = 0, 1439
    walls = [time(m // 60, m % 60) for m in range(start, end + 1, every)]
    return Case(data, walls, rule, interval_like=True)


def brute_closed(cal: CalendarSpec | None, day: date) -> str | None:
    if cal is None:
        return None
    if day in cal.extra_dates:
        return "closed: extra date"
    if cal.skip_weekends and day.weekday() >= 5 and day not in cal.working_dates:
        return "weekend"
    return None


Fires = dict[datetime, list[datetime]]  # nominal local wall time -> the UTC instants it fires
Skips = dict[datetime, datetime]  # nominal local wall time -> where the calendar skip lies


def brute_force(
    case: Case, zone: ZoneInfo, cal: CalendarSpec | None, after: datetime, bounds: tuple[date, date]
) -> tuple[Fires, Skips, dict[datetime, str]]:
    """(fires, skips, skip reasons) around `after`, from the semantics alone."""
    on_closed = case.data.get("on_closed", "skip")
    first, last = bounds
    business = (lambda d: brute_closed(cal, d) is None) if cal else (lambda d: d.weekday() < 5)
    base = after.astimezone(zone).date()
    fire_walls: set[datetime] = set()
    skip_walls: dict[datetime, str] = {}
    for offset in range(-40, 60):
        day = base + timedelta(days=offset)
        if not (first <= day <= last) or not case.day_rule(day, business):
            continue
        reason = brute_closed(cal, day)
        target: date | None = day
        if reason is not None:
            target = None
            step = {"next_open_day": 1, "previous_open_day": -1}.get(on_closed)
            other = day
            while step is not None and first <= other + timedelta(days=step) <= last:
                other += timedelta(days=step)
                if brute_closed(cal, other) is None:
                    target = other
                    break
        for wall in case.wall_times:
            if target is None:
                skip_walls[datetime.combine(day, wall)] = reason or ""
            else:
                fire_walls.add(datetime.combine(target, wall))
    passes, jumped = clock_readings(zone, after, fire_walls | set(skip_walls))
    fires = {wall: dst_rule(case, passes.get(wall, []), jumped.get(wall)) for wall in fire_walls}
    skips = {
        wall: (passes[wall][0] if wall in passes else jumped[wall])
        for wall in skip_walls
        if wall in passes or wall in jumped
    }
    return fires, skips, skip_walls


def clock_readings(
    zone: ZoneInfo, after: datetime, walls: set[datetime]
) -> tuple[dict[datetime, list[datetime]], dict[datetime, datetime]]:
    """Nominal wall time -> the UTC minutes at which the local clock reads it (its passes),
    and, for one the clock jumps over, the first UTC minute after the jump."""
    passes: dict[datetime, list[datetime]] = {}
    jumped: dict[datetime, datetime] = {}
    # A day of run-up is enough: a wall time read earlier cannot fire after `after`.
    moment = after.replace(second=0, microsecond=0) - timedelta(days=1)
    previous = moment.astimezone(zone).replace(tzinfo=None)
    end = after + HORIZON
    while moment < end:
        moment += timedelta(minutes=1)
        wall = moment.astimezone(zone).replace(tzinfo=None)
        if wall in walls:
            passes.setdefault(wall, []).append(moment)
        probe = previous + timedelta(minutes=1)
        while probe < wall:  # the wall times a forward jump of the clock never shows
            if probe in walls:
                jumped.setdefault(probe, moment)
            probe += timedelta(minutes=1)
        previous = max(previous, wall)
    return passes, jumped


def dst_rule(case: Case, passes: list[datetime], jumped: datetime | None) -> list[datetime]:
    """The instants a nominal wall time fires at, by the schedule's DST rules."""
    data = case.data
    if case.interval_like and data.get("dst_interval", "elapsed") == "elapsed":
        return passes
    if not passes:
        return (
            [jumped] if jumped and data.get("dst_gap", "run_after_gap") == "run_after_gap" else []
        )
    fold = data.get("dst_fold", "first")
    return passes if fold == "both" else passes[-1:] if fold == "second" else passes[:1]


@st.composite
def calendars(draw: st.DrawFn, near: date) -> CalendarSpec | None:
    if draw(st.booleans()):
        return None
    nearby = st.integers(-3, 12).map(lambda k: near + timedelta(days=k))
    return CalendarSpec(
        name="random",
        skip_weekends=draw(st.booleans()),
        extra_dates=frozenset(draw(st.lists(nearby, max_size=4))),
        working_dates=frozenset(draw(st.lists(nearby, max_size=2))),
    )


@cache
def transitions(zone_name: str) -> list[datetime]:
    """The zone's 2026 offset changes (UTC), found hour by hour (all are on the hour in UTC)."""
    zone, found = ZoneInfo(zone_name), []
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    while moment.year == 2026:
        if (moment + timedelta(hours=1)).astimezone(zone).utcoffset() != moment.astimezone(
            zone
        ).utcoffset():
            found.append(moment + timedelta(hours=1))
        moment += timedelta(hours=1)
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_forecast_matches_brute_force(data: st.DataObject) -> None:
    zone_name = data.draw(st.sampled_from(ZONES), "zone")
    zone = ZoneInfo(zone_name)
    changes = transitions(zone_name)
    if changes and data.draw(st.integers(0, 4), "aim at a change") > 0:
        # Aim the walk at one of the zone's DST changes: that is where the maths can go wrong.
        start = data.draw(st.sampled_from(changes), "change") - timedelta(days=4)
    else:
        start = datetime.combine(data.draw(st.sampled_from(NEAR_CHANGES)), time(), tzinfo=UTC)
    after = start + timedelta(
        minutes=data.draw(st.integers(0, 4 * 1440), "minutes"),
        seconds=data.draw(st.sampled_from([0, 0, 30])),
    )
    near = after.date()
    case = data.draw(cases(after.astimezone(zone).replace(tzinfo=None)), "case")
    cal = data.draw(calendars(near), "calendar")
    schedule = {
        **case.data,
        "timezone": zone_name,
        "on_closed": data.draw(st.sampled_from(["skip", "next_open_day", "previous_open_day"])),
        "dst_gap": data.draw(st.sampled_from(["run_after_gap", "skip"]), "dst_gap"),
        "dst_fold": data.draw(st.sampled_from(["first", "second", "both"]), "dst_fold"),
        "dst_interval": data.draw(st.sampled_from(["elapsed", "wall_clock"]), "dst_interval"),
    }
    first, last = date.min, date.max
    if data.draw(st.integers(0, 3), "bounded") == 0:
        first = near + timedelta(days=data.draw(st.integers(-2, 5)))
        last = first + timedelta(days=data.draw(st.integers(0, 8)))
        schedule |= {"start_date": first.isoformat(), "end_date": last.isoformat()}
    case.data = schedule

    fires, skips, reasons = brute_force(case, zone, cal, after, (first, last))
    horizon_end = after + HORIZON
    expected = sorted({at for ats in fires.values() for at in ats if after < at <= horizon_end})

    result = forecast(parse_schedule(schedule), after, len(expected) + 1, cal)
    got = [o.at for o in result.occurrences]
    assert got[: len(expected)] == expected
    assert len(got) <= len(expected) or got[len(expected)] > horizon_end
    assert all(o.local == o.at.astimezone(zone) and o.at.tzinfo is UTC for o in result.occurrences)
    if expected:
        span = forecast(parse_schedule(schedule), after, len(expected), cal)
        expected_skips = sorted(
            (at, wall, reasons[wall]) for wall, at in skips.items() if after < at <= expected[-1]
        )
        got_skips = [
            (s.local.replace(tzinfo=None), s.reason) for s in span.skipped if s.kind == "calendar"
        ]
        assert sorted(got_skips) == sorted((wall, reason) for _, wall, reason in expected_skips)


@st.composite
def change_cases(draw: st.DrawFn) -> Case:
    """Schedules that have wall times inside a DST change's hours: interval-like crons and
    frequencies, and fixed times in the small hours."""
    kind = draw(st.sampled_from(["stepped", "frequency", "fixed"]))
    if kind == "stepped":
        step = draw(st.sampled_from([1, 5, 7, 10, 15, 20, 30, 45]))
        walls = [time(h, m) for h in range(24) for m in range(0, 60, step)]
        return Case({"kind": "cron", "cron": f"*/{step} * * * *"}, walls, lambda d, b: True, True)
    if kind == "frequency":
        every = draw(st.sampled_from([10, 15, 20, 30, 45, 60, 90]))
        walls = [time(m // 60, m % 60) for m in range(0, 1440, every)]
        return Case({"kind": "frequency", "every_minutes": every}, walls, lambda d, b: True, True)
    walls = sorted(set(draw(st.lists(wall_times, min_size=1, max_size=4))))
    texts = [w.strftime("%H:%M") for w in walls]
    return Case({"kind": "times", "times": texts}, walls, lambda d, b: True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_dst_rules_at_changes_match_brute_force(data: st.DataObject) -> None:
    """The walk starts just before one of a zone's 2026 changes, so every example crosses it."""
    zone_name = data.draw(st.sampled_from([z for z in ZONES if transitions(z)]), "zone")
    zone = ZoneInfo(zone_name)
    change = data.draw(st.sampled_from(transitions(zone_name)), "change")
    after = change - timedelta(minutes=data.draw(st.integers(1, 240), "minutes before"))
    case = data.draw(change_cases(), "case")
    case.data |= {
        "timezone": zone_name,
        "dst_gap": data.draw(st.sampled_from(["run_after_gap", "skip"]), "dst_gap"),
        "dst_fold": data.draw(st.sampled_from(["first", "second", "both"]), "dst_fold"),
        "dst_interval": data.draw(st.sampled_from(["elapsed", "wall_clock"]), "dst_interval"),
    }
    fires, _, _ = brute_force(case, zone, None, after, (date.min, date.max))
    window_end = change + timedelta(hours=6)
    expected = sorted({at for ats in fires.values() for at in ats if after < at <= window_end})
    result = forecast(parse_schedule(case.data), after, len(expected) + 1)
    got = [o.at for o in result.occurrences]
    assert got[: len(expected)] == expected
    assert len(got) <= len(expected) or got[len(expected)] > window_end
