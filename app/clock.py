"""The one source of "now": injected everywhere, frozen in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC now."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = ensure_aware(moment)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


def ensure_aware(moment: datetime) -> datetime:
    """Refuse naive datetimes: every stored instant is aware UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: an aware datetime (with timezone) is required")
    return moment.astimezone(UTC)
