"""Times as people read them: how far from now, and every instant with its zone and its UTC
instant on hover (app/web/templating.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.web.templating import relative_text, templates

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=-40), "40 s ago"),
        (timedelta(minutes=-5, seconds=-20), "5 min ago"),
        (timedelta(hours=3), "in 3 h"),
        (timedelta(hours=3, minutes=10), "in 3 h 10 min"),
        (timedelta(hours=20, minutes=29), "in 20 h"),
        (timedelta(days=-3, hours=-2), "3 d ago"),
    ],
)
def test_relative_text(offset: timedelta, text: str) -> None:
    assert relative_text(NOW, NOW + offset) == text


def test_a_time_says_its_zone_its_utc_instant_and_how_far_it_is() -> None:
    page = templates.env.from_string('{{ at|when("short", rel=True) }} / {{ at|ago }}')
    at = NOW + timedelta(hours=3)
    html = page.render(now=NOW, tz=ZoneInfo("America/New_York"), at=at)
    assert html == (
        '<time datetime="2026-12-07T12:00:00Z" title="2026-12-07 12:00:00 UTC">12-07 07:00 EST'
        '</time> <small class="rel">in 3 h</small> / <time datetime="2026-12-07T12:00:00Z" '
        'title="2026-12-07 07:00:00 EST · 2026-12-07 12:00:00 UTC">in 3 h</time>'
    )
