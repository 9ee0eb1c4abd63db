"""6-field (Quartz, with seconds) crons against a brute-force walk over UTC seconds.

The brute force knows only the semantics: a cron with a wildcard or step in its minute or hour
is interval-like and runs in elapsed time (`dst_interval: elapsed`, the default), so it fires
at every UTC second whose local wall clock reading matches its fields: twice through a repeated
hour, never inside a gap. The walk covers a few hours around the zones' 2026 DST changes (and
ordinary hours), second by second.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.test_domain_forecast_property import NEAR_CHANGES, ZONES, cron_fields, transitions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.schedules import parse_schedule
from app.domain.triggers import forecast

WINDOW = timedelta(hours=3)


@st.composite
def stepped_minutes(draw: st.DrawFn) -> tuple[str, set[int]]:
    """A minute field with a wildcard or a step (what makes the cron interval-like)."""
    step = draw(st.sampled_from([1, 2, 5, 7, 15, 30]))
    if draw(st.booleans()):
        return ("*" if step == 1 else f"*/{step}"), set(range(0, 60, step))
    start = draw(st.integers(0, 59))
    end = draw(st.integers(start, 59))
    return f"{start}-{end}/{step}", set(range(start, end + 1, step))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_seconds_crons_match_a_second_by_second_walk(data: st.DataObject) -> None:
    zone_name = data.draw(st.sampled_from(ZONES), "zone")
    zone = ZoneInfo(zone_name)
    changes = transitions(zone_name)
    if changes and data.draw(st.booleans(), "aim at a change"):
        start = data.draw(st.sampled_from(changes), "change") - timedelta(hours=1)
    else:
        start = datetime.combine(data.draw(st.sampled_from(NEAR_CHANGES)), datetime.min.time())
        start = start.replace(tzinfo=UTC) + timedelta(hours=data.draw(st.integers(0, 23)))
    after = start + timedelta(seconds=data.draw(st.integers(0, 3599), "offset"))
    second, seconds = data.draw(cron_fields(0, 59, 3, star=6), "second")
    minute, minutes = data.draw(stepped_minutes(), "minute")
    hour, hours = data.draw(cron_fields(0, 23, 3, star=7), "hour")
    schedule = {"kind": "cron", "cron": f"{second} {minute} {hour} * * ?", "timezone": zone_name}

    expected = []
    moment = after.replace(microsecond=0)
    while moment < after + WINDOW:
        moment += timedelta(seconds=1)
        wall = moment.astimezone(zone)
        if wall.second in seconds and wall.minute in minutes and wall.hour in hours:
            expected.append(moment)

    result = forecast(parse_schedule(schedule), after, len(expected) + 1, None)
    got = [o.at for o in result.occurrences]
    assert got[: len(expected)] == expected, schedule
    assert len(got) <= len(expected) or got[len(expected)] >= after + WINDOW
