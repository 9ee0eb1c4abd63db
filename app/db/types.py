"""Column types: every instant aware UTC on both SQLite and PostgreSQL, statuses as enums."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from app.domain.group_run_states import GroupRunStatus
from app.domain.states import RunStatus, TriggerKind

E = TypeVar("E", bound=StrEnum)


class UTCDateTime(TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; naive-UTC text on SQLite, re-tagged as UTC when read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StrEnumColumn(TypeDecorator[E]):
    """A string column read back as its enum: the same strings stored (no schema change), and
    a string that names none of its members refused on the way in."""

    impl = String
    cache_ok = True
    enum: type[E]
    length: int

    def __init__(self) -> None:
        super().__init__(length=self.length)

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


class RunStatusType(StrEnumColumn[RunStatus]):
    enum = RunStatus
    length = 20
    cache_ok = True  # read from the class itself


class GroupRunStatusType(StrEnumColumn[GroupRunStatus]):
    enum = GroupRunStatus
    length = 20
    cache_ok = True  # read from the class itself


class TriggerKindType(StrEnumColumn[TriggerKind]):
    enum = TriggerKind
    length = 12
    cache_ok = True  # read from the class itself
