"""Alembic environment: the schema is app.db.tables' metadata; the URL comes from the caller."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

# Every table module registers its tables on the metadata (autogenerate compares them all).
import app.db.access_tables
import app.db.alert_tables
import app.db.backfill_tables
import app.db.login_tables
import app.db.policy_tables
import app.db.pool_tables
import app.db.sync_tables
import app.db.tables
import app.db.variable_set_tables
import app.db.version_tables  # noqa: F401
from app.db.engine import make_engine

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("ALMANAC_DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: set ALMANAC_DATABASE_URL or use `almanac db upgrade`")
    return url


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch migration rebuilds a table (copy, DROP, rename): with foreign keys enforced,
        # dropping `run` fails as soon as a run has events. Off while migrating (SQLite only
        # takes this outside a transaction), then every reference is checked before going on.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        if broken:
            raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")


def run_migrations_online() -> None:
    existing = config.attributes.get("connection")
    if existing is not None:
        _run(existing)
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
