"""Run events written as plain rows: queued on the session, inserted with one INSERT.

A burst records thousands of events; building, tracking and reading back the keys of an ORM
object for each cost more than the rest of the transaction. So `queue` holds the rows on the
session and the writer inserts them before anything else reads the session (a query, a
flush, the commit): a reader never misses one, and a rollback drops them.

The writer is installed by `make_engine` (app/db/engine.py), once per process, not as a side
effect of importing this module.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession

from app.db.tables import RunEvent

_PENDING = "pending_run_events"
_installed = False
_lock = threading.Lock()


def queue(session: OrmSession, row: dict[str, Any]) -> None:
    session.info.setdefault(_PENDING, []).append(row)


def install() -> None:
    """Have every session write its queued rows before it reads, after it flushes and
    before it commits (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        event.listen(OrmSession, "after_flush", _after_flush)
        event.listen(OrmSession, "before_commit", _write)
        event.listen(OrmSession, "do_orm_execute", _before_reading)
        event.listen(OrmSession, "after_soft_rollback", _dropped)
        _installed = True


def _write(session: OrmSession) -> None:
    rows = session.info.pop(_PENDING, None)
    if rows:
        session.connection().execute(insert(RunEvent), rows)


def _after_flush(session: OrmSession, _context: Any) -> None:
    _write(session)


def _before_reading(state: ORMExecuteState) -> None:
    _write(state.session)


def _dropped(session: OrmSession, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
