"""Calendars as the API reads and shows them, and the year preview of one."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.models.schemas import PathName, _Strict

Category = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")]


class CalendarCreate(_Strict):
    name: PathName
    description: str = Field(default="", max_length=10_000)
    country: str | None = Field(default=None, max_length=10)
    subdivision: str | None = Field(default=None, max_length=20)
    categories: list[Category] = Field(
        default_factory=list,
        max_length=20,
        description="The holidays library's categories for the country (public, bank, "
        "catholic, half_day, ...); empty: public holidays.",
    )
    skip_weekends: bool = False
    extra_dates: list[date] = Field(default_factory=list, max_length=5000)
    working_dates: list[date] = Field(default_factory=list, max_length=5000)
    include: list[PathName] = Field(
        default_factory=list,
        max_length=50,
        description="Calendars whose closed days close this one.",
    )
    exclude: list[PathName] = Field(
        default_factory=list,
        max_length=50,
        description="Calendars whose closed days open this one.",
    )


class CalendarUpdate(_Strict):
    description: str | None = Field(default=None, max_length=10_000)
    country: str | None = Field(default=None, max_length=10)
    subdivision: str | None = Field(default=None, max_length=20)
    categories: list[Category] | None = Field(default=None, max_length=20)
    skip_weekends: bool | None = None
    extra_dates: list[date] | None = Field(default=None, max_length=5000)
    working_dates: list[date] | None = Field(default=None, max_length=5000)
    include: list[PathName] | None = Field(default=None, max_length=50)
    exclude: list[PathName] | None = Field(default=None, max_length=50)


class CalendarPublic(BaseModel):
    name: str
    description: str
    country: str | None
    subdivision: str | None
    categories: list[str]
    skip_weekends: bool
    extra_dates: list[date]
    working_dates: list[date]
    include: list[str]
    exclude: list[str]
    used_by: list[str]
    managed_by: str | None = Field(
        default=None, description="The definitions source that owns it (file:..., sync:...)."
    )
    managed_file: str | None = None
    managed_commit: str | None = None
    created_at: datetime | None
    updated_at: datetime | None


class ClosedDay(BaseModel):
    date: date
    reason: str


class PreviewDay(BaseModel):
    date: date
    kind: str = Field(
        description="extra_date, holiday, weekend, calendar (from an included one); for open "
        "days that a rule opened: working_date, excluded"
    )
    reason: str
    category: str | None = Field(default=None, description="The holiday's category.")
    calendar: str | None = Field(
        default=None, description="The included or excluded calendar that decided."
    )


class CalendarPreview(BaseModel):
    """A calendar's year: every closed date with its reason, and the dates a rule opened."""

    name: str
    year: int
    include: list[str]
    exclude: list[str]
    closed: list[PreviewDay]
    opened: list[PreviewDay] = Field(
        description="Open dates that a working date or an excluded calendar opened."
    )
    open_days: int
    closed_days: int
