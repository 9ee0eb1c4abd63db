"""Holiday calendars: which local dates are closed, and why.

Holidays come from the `holidays` library; the per-(country, subdivision, year) tables
are cached at module level so a CalendarSpec stays a cheap, hashable value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import holidays

# English names where the country offers them, so reasons read the same everywhere.
_PREFERRED_LANGUAGE = "en_US"


@dataclass(frozen=True, kw_only=True)
class CalendarSpec:
    name: str
    country: str | None = None
    subdivision: str | None = None
    skip_weekends: bool = False
    extra_dates: frozenset[date] = frozenset()  # closed
    working_dates: frozenset[date] = frozenset()  # open although holiday or weekend

    def closed_reason(self, day: date) -> str | None:
        """Why `day` is closed ("holiday: …", "weekend", "closed: extra date"), None if open."""
        if day in self.extra_dates:
            return "closed: extra date"
        if day in self.working_dates:
            return None
        if self.country is not None:
            holiday = _holiday_names(self.country, self.subdivision, day.year).get(day)
            if holiday is not None:
                return f"holiday: {holiday}"
        if self.skip_weekends and day.weekday() >= 5:
            return "weekend"
        return None

    def is_open(self, day: date) -> bool:
        return self.closed_reason(day) is None


def validate_calendar_fields(country: str | None, subdivision: str | None) -> None:
    """ValueError naming `country` or `subdivision` when the holidays library lacks it."""
    supported = _supported()
    if country is None:
        if subdivision is not None:
            raise ValueError("subdivision: a subdivision needs a country")
        return
    if country not in supported:
        raise ValueError(f"country: unknown country code {country!r} (ISO 3166-1 alpha-2)")
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country][:20]) or "none"
        raise ValueError(
            f"subdivision: {subdivision!r} is not a subdivision of {country} (known: {known})"
        )


@cache
def _supported() -> dict[str, list[str]]:
    result: dict[str, list[str]] = holidays.list_supported_countries(include_aliases=False)
    return result


@cache
def _holiday_names(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    table = holidays.country_holidays(country, subdiv=subdivision, years=year)
    if _PREFERRED_LANGUAGE in (table.supported_languages or ()):
        table = holidays.country_holidays(
            country, subdiv=subdivision, years=year, language=_PREFERRED_LANGUAGE
        )
    # Several names on one day come joined with "; " by the library itself.
    return {day: str(name) for day, name in table.items()}
