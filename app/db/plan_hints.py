"""Steering SQLite's planner where it has no statistics (the server never runs ANALYZE): a
column written `+table.column` is compared as usual but searched through no index, so SQLite
keeps the plan that walks rows in the order asked (by id) and stops at the LIMIT, instead of
reading every row of a status or a time range and sorting them. PostgreSQL, which keeps
statistics, gets the column as is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, literal_column
from sqlmodel import Session


def unindexed(session: Session, column: Column[Any]) -> Any:
    if session.get_bind().dialect.name != "sqlite":
        return column
    return literal_column(f"+{column.table.name}.{column.name}", type_=column.type)
