"""Several schedules and blackouts: merged fires (an instant fires once), blackout windows
(date ranges, daily windows, past midnight, weekdays, their own zone), and a property test
against the schedules' own forecasts merged and filtered by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.domain.blackouts import Blackout
from app.domain.schedules import parse_schedule
from app.domain.timing import Timing, timing_forecast, timing_next_fire, timing_of
from app.domain.triggers import forecast

LONDON = ZoneInfo("Europe/London")


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.mark.parametrize(
    ("blackout", "local", "covered"),
    [
        ({"start_date": "2026-12-24", "end_date": "2027-01-02"}, "2026-12-24T00:00", True),
        ({"start_date": "2026-12-24", "end_date": "2027-01-02"}, "2027-01-02T23:59", True),
        ({"start_date": "2026-12-24", "end_date": "2027-01-02"}, "2027-01-03T00:00", False),
        ({"start": "01:00", "end": "03:00"}, "2026-06-01T01:00", True),
        ({"start": "01:00", "end": "03:00"}, "2026-06-01T03:00", False),  # end excluded
        ({"start": "22:00", "end": "06:00", "days": "fri"}, "2026-06-05T23:00", True),  # Fri
        ({"start": "22:00", "end": "06:00", "days": "fri"}, "2026-06-06T05:59", True),  # Sat
        ({"start": "22:00", "end": "06:00", "days": "fri"}, "2026-06-06T22:30", False),
        ({"start": "22:00", "end": "06:00", "days": "fri"}, "2026-06-05T05:00", False),
        ({"start": "12:00", "end": "13:00", "timezone": "UTC"}, "2026-06-01T12:30", False),
        ({"start": "12:00", "end": "13:00", "timezone": "UTC"}, "2026-06-01T13:30", True),
        (
            {
                "start_date": "2026-06-01",
                "end_date": "2026-06-01",
                "start": "12:00",
                "end": "13:00",
            },
            "2026-06-02T12:30",
            False,
        ),
    ],
)
def test_blackout_windows(blackout: dict[str, Any], local: str, covered: bool) -> None:
    assert Blackout.model_validate({"name": "b", **blackout}).covers(_local(local)) is covered


@pytest.mark.parametrize(
    ("blackout", "loc"),
    [
        ({"start_date": "2026-06-01"}, "end_date"),
        ({"end_date": "2026-06-01"}, "start_date"),
        ({"start_date": "2026-06-02", "end_date": "2026-06-01"}, "end_date"),
        ({"start": "01:00"}, "end"),
        ({"start": "01:00", "end": "01:00"}, "end"),
        ({"start": "1am", "end": "02:00"}, "start"),
        ({"days": "sat"}, "days"),
        ({"start": "01:00", "end": "02:00", "days": "first mon"}, "days"),
        ({"start": "01:00", "end": "02:00", "timezone": "posixrules"}, "timezone"),
        ({}, "start_date"),
    ],
)
def test_bad_blackouts_name_the_field(blackout: dict[str, Any], loc: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Blackout.model_validate({"name": "b", **blackout})
    assert str(caught.value.errors()[0]["msg"]).startswith(f"{loc}: ")


def test_an_instant_named_by_several_schedules_fires_once() -> None:
    timing = timing_of(
        {"kind": "cron", "cron": "0 8 * * *", "timezone": "Europe/London"},
        [
            {"kind": "times", "times": ["08:00", "09:00"], "timezone": "Europe/London"},
            {"kind": "cron", "cron": "0 7 * * *"},  # 08:00 BST
        ],
    )
    assert timing is not None
    result = timing_forecast(timing, datetime(2026, 6, 1, tzinfo=UTC), 3)
    assert [o.local.isoformat(timespec="minutes") for o in result.occurrences] == [
        "2026-06-01T08:00+01:00",
        "2026-06-01T09:00+01:00",
        "2026-06-02T08:00+01:00",
    ]


def test_a_calendar_skip_at_an_instant_another_schedule_fires_is_left_out() -> None:
    weekdays = parse_schedule({"kind": "times", "times": ["08:00"], "days": "mon-fri"})
    daily = parse_schedule({"kind": "times", "times": ["08:00"]})
    from app.domain.calendars import CalendarSpec

    closed = CalendarSpec(name="c", extra_dates=frozenset({date(2026, 6, 2)}))
    timing = Timing((weekdays.model_copy(update={"calendar": "c"}), daily))
    result = timing_forecast(
        timing, datetime(2026, 6, 1, 12, tzinfo=UTC), 2, lambda s: closed if s.calendar else None
    )
    assert [o.at.date() for o in result.occurrences] == [date(2026, 6, 2), date(2026, 6, 3)]
    assert result.skipped == []


def test_blackouts_that_cover_everything_end_the_walk() -> None:
    timing = timing_of(
        {"kind": "cron", "cron": "0 * * * *"},
        blackouts=[{"name": "all", "start": "00:00", "end": "23:59:59"}],
    )
    assert timing is not None
    assert timing_next_fire(timing, datetime(2026, 6, 1, tzinfo=UTC)) is None


ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, Any]:
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        minute = draw(st.sampled_from(["0", "*/20", "15,45", "7"]))
        hour = draw(st.sampled_from(["*", "*/3", "1-3", "8,20"]))
        return {"kind": "cron", "cron": f"{minute} {hour} * * *", "timezone": zone}
    times = draw(
        st.lists(st.sampled_from(["00:30", "01:30", "02:00", "08:00", "23:00"]), min_size=1)
    )
    return {"kind": "times", "times": times, "timezone": zone}


@st.composite
def blackouts(draw: st.DrawFn, near: date) -> dict[str, Any]:
    data: dict[str, Any] = {"name": f"b{draw(st.integers(0, 99))}"}
    if draw(st.booleans()):
        first = near + timedelta(days=draw(st.integers(0, 5)))
        data |= {
            "start_date": first.isoformat(),
            "end_date": (first + timedelta(days=draw(st.integers(0, 2)))).isoformat(),
        }
    if "start_date" not in data or draw(st.booleans()):
        start, end = draw(st.integers(0, 23)), draw(st.integers(0, 23))
        if start == end:
            end = (end + 1) % 24
        data |= {"start": f"{start:02}:00", "end": f"{end:02}:00"}
        if draw(st.booleans()):
            data["days"] = draw(st.sampled_from(["mon-fri", "sat,sun", "wed"]))
    return data  # fmt: skip


def by_hand(data: dict[str, Any], local: datetime) -> bool:
    """A blackout's rule written out again, apart from the code."""
    if "timezone" in data:
        local = local.astimezone(ZoneInfo(data["timezone"]))
    day, wall = local.date(), local.time().replace(tzinfo=None)
    if "start_date" in data and not (
        date.fromisoformat(data["start_date"]) <= day <= date.fromisoformat(data["end_date"])
    ):
        return False
    if "start" not in data:
        return True
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    spec = data.get("days", "mon-sun")
    if "-" in spec:
        a, b = (names.index(x) for x in spec.split("-"))
        allowed = set(range(a, b + 1))
    else:
        allowed = {names.index(x) for x in spec.split(",")}
    start, end = time.fromisoformat(data["start"]), time.fromisoformat(data["end"])
    if start < end:
        return start <= wall < end and day.weekday() in allowed
    return (wall >= start and day.weekday() in allowed) or (
        wall < end and (day - timedelta(days=1)).weekday() in allowed
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_merged_forecast_matches_the_schedules_merged_by_hand(data: st.DataObject) -> None:
    after = datetime(2026, data.draw(st.sampled_from([3, 6, 10])), 24, 12, tzinfo=UTC)
    main, *extra = data.draw(st.lists(schedules(), min_size=1, max_size=3), "schedules")
    cuts = data.draw(st.lists(blackouts(after.date()), max_size=3), "blackouts")
    for number, cut in enumerate(cuts):
        cut["name"] = f"b{number}"
    timing = timing_of(main, extra, cuts)
    assert timing is not None
    count = 40
    got = timing_forecast(timing, after, count)
    # By hand: each schedule's own fires, merged, one per instant, blackouts applied, as far
    # as every schedule's own forecast reaches.
    fires: dict[datetime, datetime] = {}
    reach = datetime.max.replace(tzinfo=UTC)
    for schedule in timing.schedules:
        own = forecast(schedule, after, 400).occurrences
        if len(own) == 400:
            reach = min(reach, own[-1].at)
        for occurrence in own:
            fires.setdefault(occurrence.at, occurrence.local)
    expected = [at for at in sorted(fires) if not any(by_hand(cut, fires[at]) for cut in cuts)]
    got_in_reach = [o.at for o in got.occurrences if o.at <= reach]
    assert got_in_reach == [at for at in expected if at <= reach][: len(got_in_reach)]
    if len(got.occurrences) < count:
        assert [o.at for o in got.occurrences] == expected
    blacked = [s for s in got.skipped if s.kind == "blackout"]
    for skipped in blacked:
        assert any(by_hand(cut, skipped.local) for cut in cuts)
        name = next(cut["name"] for cut in cuts if by_hand(cut, skipped.local))
        assert skipped.reason == f"blackout: {name}"
