"""Representative rows for an old schema: one row in every table a revision has, every column
filled (JSON of the shape the models hold, foreign keys pointing at the rows made before), so
an upgrade to head can be checked to have kept each value."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
)
from sqlmodel import SQLModel

import app.db.alert_tables
import app.db.backfill_tables
import app.db.login_tables
import app.db.policy_tables
import app.db.pool_tables
import app.db.sync_tables
import app.db.tables
import app.db.variable_set_tables
import app.db.version_tables  # noqa: F401
from app.db.types import StrEnumColumn

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SCHEDULE = {"kind": "cron", "cron": "30 8 * * 1-5", "timezone": "Europe/Berlin"}

# Values with a meaning some migration reads (a status, a role, a schedule): realistic ones.
MEANINGFUL: dict[str, Any] = {
    "status": "SUCCESS",
    "role": "admin",
    "timezone": "Europe/Berlin",
    "instance": "default",
    "instances": ["default"],
    "schedule": SCHEDULE,
    "spec": {"command": "true"},
}
BY_TABLE: dict[tuple[str, str], Any] = {
    ("agent", "status"): "online",
    ("backfill", "status"): "done",
    ("alert_delivery", "status"): "sent",
}


def seed(
    engine: Engine,
    *,
    skip: set[str] | None = None,
    earlier: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """One row per table (but alembic_version and `skip`); what was written, by table.
    `earlier`: rows seeded before, which foreign keys may point at."""
    metadata = MetaData()
    metadata.reflect(engine)
    written: dict[str, dict[str, Any]] = dict(earlier or {})
    made: dict[str, dict[str, Any]] = {}
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version" or table.name in (skip or set()):
                continue
            row = {
                column.name: _value(table, column.name, written, engine.dialect.name)
                for column in table.columns
            }
            connection.execute(table.insert().values(**row))
            written[table.name] = made[table.name] = row
    return made


def read_back(engine: Engine, written: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each seeded row as it is now (its primary key found again), for the columns still there."""
    metadata = MetaData()
    metadata.reflect(engine)
    found: dict[str, dict[str, Any]] = {}
    with engine.connect() as connection:
        for name, row in written.items():
            if name not in metadata.tables:
                continue
            table = metadata.tables[name]
            where = [c == row[c.name] for c in table.primary_key.columns]
            now = connection.execute(select(table).where(*where)).mappings().first()
            found[name] = (
                {k: _plain(v) for k, v in now.items() if k in row} if now is not None else {}
            )
    return found


def expected(written: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {k: _plain(v) for k, v in row.items()} for name, row in written.items()}


def _value(table: Table, name: str, written: dict[str, dict[str, Any]], dialect: str) -> Any:
    column = table.columns[name]
    for fk in column.foreign_keys:
        target = fk.column
        return written[target.table.name][target.name]
    wanted = BY_TABLE.get((table.name, name), MEANINGFUL.get(name))
    members = _enum_values(table.name, name)
    if members:  # the newest model reads it back as an enum: one of its members
        return wanted if wanted in members else members[0]
    if (table.name, name) in BY_TABLE:
        return BY_TABLE[(table.name, name)]
    kind = column.type
    if name in MEANINGFUL and not isinstance(kind, Integer | Boolean):
        value = MEANINGFUL[name]
        return json.dumps(value) if isinstance(value, dict | list) and not _is_json(kind) else value
    return _by_type(table, column, dialect)


def _by_type(table: Table, column: Any, dialect: str) -> Any:
    kind, name = column.type, column.name
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, Integer | BigInteger):
        return 1 if column.primary_key else 3
    if isinstance(kind, Float):
        return 1.5
    if isinstance(kind, DateTime):
        return AT.replace(tzinfo=None) if dialect == "sqlite" else AT
    if isinstance(kind, Date):
        return date(2026, 1, 2)
    if isinstance(kind, LargeBinary):
        return b"bytes"
    if _is_json(kind):
        return [] if _holds_list(table.name, name) else {}
    if isinstance(kind, String):
        text = f"{table.name}.{name}"
        return text[: kind.length] if kind.length else text
    raise AssertionError(f"no sample value for {table.name}.{name} ({kind!r})")


def _enum_values(table: str, column: str) -> list[str]:
    model = SQLModel.metadata.tables.get(table)
    if model is None or column not in model.columns:
        return []
    kind = model.columns[column].type
    return [member.value for member in kind.enum] if isinstance(kind, StrEnumColumn) else []


def _is_json(kind: Any) -> bool:
    return isinstance(kind, JSON) or type(kind).__name__ in ("JSON", "JSONB")


def _holds_list(table: str, column: str) -> bool:
    """Whether the newest model keeps a list in this JSON column (else an object)."""
    model = SQLModel.metadata.tables.get(table)
    if model is None or column not in model.columns:
        return False
    for mapper in SQLModel._sa_registry.mappers:  # type: ignore[attr-defined]
        cls = mapper.class_
        if getattr(cls, "__tablename__", None) == table and column in cls.model_fields:
            return str(cls.model_fields[column].annotation).startswith("list")
    return False


def _plain(value: Any) -> Any:
    """A value comparable across backends and drivers: JSON text decoded, instants in UTC."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, memoryview):
        return bytes(value)
    return value
