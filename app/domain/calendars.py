"""Holiday calendars: which local dates are closed, and why.

Holidays come from the `holidays` library, by country, subdivision and the library's
categories (public, bank, catholic, half_day, ...); the per-(country, subdivision,
categories, year) tables are cached at module level so a CalendarSpec stays a cheap,
hashable value. A calendar may combine others: `include` closes what an included calendar
closes (union), `exclude` opens what an excluded calendar closes (difference). The database
layer resolves those names into nested specs; here they are plain values.

Order of the rules for one day (the first that speaks decides):
1. the calendar's own `extra_dates` (closed) and `working_dates` (open);
2. a day closed by an excluded calendar is open;
3. the country's holidays of the chosen categories, then weekends (`skip_weekends`);
4. a day closed by an included calendar is closed, with that calendar's reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Literal

# English names where the country offers them, so reasons read the same everywhere.
_PREFERRED_LANGUAGE = "en_US"
DEFAULT_CATEGORY = "public"

Kind = Literal["extra_date", "holiday", "weekend", "calendar", "working_date", "excluded", "open"]


@dataclass(frozen=True, kw_only=True)
class DayVerdict:
    """What a calendar says about one day, and which rule said it."""

    closed: bool
    kind: Kind
    reason: str | None = None  # "holiday: …", "weekend", "from calendar X: …", …
    category: str | None = None  # the holiday's category
    calendar: str | None = None  # the included or excluded calendar that decided


_OPEN = DayVerdict(closed=False, kind="open")


@dataclass(frozen=True, kw_only=True)
class CalendarSpec:
    name: str
    country: str | None = None
    subdivision: str | None = None
    categories: tuple[str, ...] = ()  # () : the library's default, public holidays
    skip_weekends: bool = False
    extra_dates: frozenset[date] = frozenset()  # closed
    working_dates: frozenset[date] = frozenset()  # open although holiday or weekend
    include: tuple[CalendarSpec, ...] = ()  # closed days of these are closed here
    exclude: tuple[CalendarSpec, ...] = ()  # closed days of these are open here

    def verdict(self, day: date) -> DayVerdict:
        if day in self.extra_dates:
            return DayVerdict(closed=True, kind="extra_date", reason="closed: extra date")
        if day in self.working_dates:
            return DayVerdict(closed=False, kind="working_date", reason="open: working date")
        for other in self.exclude:
            inner = other.closed_reason(day)
            if inner is not None:
                return DayVerdict(
                    closed=False,
                    kind="excluded",
                    reason=f"open: closed in excluded calendar {other.name} ({inner})",
                    calendar=other.name,
                )
        if self.country is not None:
            found = _holiday_names(self.country, self.subdivision, self.categories, day.year)
            holiday = found.get(day)
            if holiday is not None:
                name, category = holiday
                shown = name if category == DEFAULT_CATEGORY else f"{name} ({category})"
                return DayVerdict(
                    closed=True, kind="holiday", reason=f"holiday: {shown}", category=category
                )
        if self.skip_weekends and day.weekday() >= 5:
            return DayVerdict(closed=True, kind="weekend", reason="weekend")
        for other in self.include:
            inner_verdict = other.verdict(day)
            if inner_verdict.closed:
                return DayVerdict(
                    closed=True,
                    kind="calendar",
                    reason=f"from calendar {other.name}: {inner_verdict.reason}",
                    category=inner_verdict.category,
                    calendar=other.name,
                )
        return _OPEN

    def closed_reason(self, day: date) -> str | None:
        """Why `day` is closed ("holiday: …", "weekend", "closed: extra date", "from calendar
        X: …"), None if open."""
        verdict = self.verdict(day)
        return verdict.reason if verdict.closed else None

    def is_open(self, day: date) -> bool:
        return self.closed_reason(day) is None


def validate_calendar_fields(
    country: str | None, subdivision: str | None, categories: Sequence[str] = ()
) -> None:
    """ValueError naming `country`, `subdivision` or `categories` when the holidays library
    lacks it."""
    supported = _supported()
    if country is None:
        if subdivision is not None:
            raise ValueError("subdivision: a subdivision needs a country")
        if categories:
            raise ValueError("categories: holiday categories need a country")
        return
    if country not in supported:
        raise ValueError(f"country: unknown country code {country!r} (ISO 3166-1 alpha-2)")
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country][:20]) or "none"
        raise ValueError(
            f"subdivision: {subdivision!r} is not a subdivision of {country} (known: {known})"
        )
    offered = supported_categories(country)
    unknown = [c for c in categories if c not in offered]
    if unknown:
        raise ValueError(
            f"categories: {', '.join(map(repr, unknown))} not offered for {country} "
            f"(offered: {', '.join(offered)})"
        )


@cache
def supported_categories(country: str) -> tuple[str, ...]:
    """The holiday categories the library offers for `country` (always includes public)."""
    import holidays  # loaded on first use: a third of a second off every start

    offered = holidays.country_holidays(country).supported_categories or ()
    return tuple(sorted({DEFAULT_CATEGORY, *offered}))


def find_cycle(references: Mapping[str, Iterable[str]], start: str) -> list[str] | None:
    """A path of calendar names from `start` back to a calendar already on the path (e.g.
    ["a", "b", "a"]) when following include/exclude references loops; None otherwise."""
    path: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        path.append(name)
        for other in references.get(name, ()):
            found = visit(other)
            if found is not None:
                return found
        path.pop()
        done.add(name)
        return None

    return visit(start)


@cache
def _supported() -> dict[str, list[str]]:
    import holidays

    result: dict[str, list[str]] = holidays.list_supported_countries(include_aliases=False)
    return result


@cache
def _holiday_names(
    country: str, subdivision: str | None, categories: tuple[str, ...], year: int
) -> dict[date, tuple[str, str]]:
    """Day -> (name, category); a day in several categories keeps the first of them, public
    first."""
    wanted = sorted(categories or (DEFAULT_CATEGORY,), key=lambda c: (c != DEFAULT_CATEGORY, c))
    result: dict[date, tuple[str, str]] = {}
    for category in wanted:
        for day, name in _category_table(country, subdivision, category, year).items():
            result.setdefault(day, (name, category))
    return result


@cache
def _category_table(
    country: str, subdivision: str | None, category: str, year: int
) -> dict[date, str]:
    import holidays

    table = holidays.country_holidays(
        country, subdiv=subdivision, years=year, categories=(category,)
    )
    if _PREFERRED_LANGUAGE in (table.supported_languages or ()):
        table = holidays.country_holidays(
            country,
            subdiv=subdivision,
            years=year,
            categories=(category,),
            language=_PREFERRED_LANGUAGE,
        )
    # Several names on one day come joined with "; " by the library itself.
    return {day: str(name) for day, name in table.items()}
