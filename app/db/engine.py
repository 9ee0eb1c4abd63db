"""Engine construction and per-dialect tuning (SQLite WAL, PostgreSQL via psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

from app.db import run_event_rows, unit_of_work


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    run_event_rows.install()  # sessions write the run events they queued (once per process)
    # Every change to a definition becomes a version. Imported here: the recorder reads
    # definitions through modules that need this one.
    from app.db import versions

    versions.install()
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while the scheduler writes; NORMAL is durable across app crashes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error; the events it recorded
    go to the engine's subscribers once it has committed (app/db/unit_of_work.py)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            events = unit_of_work.commit(session, engine)
        except BaseException:
            unit_of_work.roll_back(session)
            raise
    unit_of_work.deliver(engine, events)
