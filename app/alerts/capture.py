"""Run endings caught as they are written, handed to the alert service after the commit.

Every status change records its event right after `transition()` set the run's fields, so
when a SUCCESS or FAILED event is recorded (`runs.EVENT_HOOKS`) the run row says exactly how
the attempt ended (its reason, exit code, agent), even if a retry changes the row later in
the same transaction. The snapshots wait in `session.info` and go to the engine's sink when the
transaction commits; a rollback drops them. `CHANGED_RUNS` is left alone (others read it).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from app.db.runs import EVENT_HOOKS
from app.db.tables import Run

_KEY = "alert_endings"
_ENDINGS = frozenset({"SUCCESS", "FAILED"})


@dataclass(frozen=True)
class Ending:
    """One attempt's end as it was written: the run's public fields at that moment."""

    run_id: int
    attempt: int
    status: str
    run: dict[str, Any]


Sink = Callable[[list[Ending]], None]
_SINKS: weakref.WeakKeyDictionary[Engine, Sink] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
_listening = False


def attach(engine: Engine, sink: Sink) -> None:
    """Send the endings committed through `engine` to `sink` (called on the committing
    thread; it must only queue them)."""
    global _listening
    with _lock:
        _SINKS[engine] = sink
        if not _listening:
            EVENT_HOOKS.append(_recorded)
            event.listen(Session, "after_commit", _committed)
            event.listen(Session, "after_soft_rollback", _rolled_back)
            _listening = True


def detach(engine: Engine) -> None:
    with _lock:
        _SINKS.pop(engine, None)


def _sink_of(session: Session) -> Sink | None:
    bind = session.bind
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _SINKS.get(engine) if isinstance(engine, Engine) else None


def snapshot(run: Run, at: datetime | None = None) -> dict[str, Any]:
    """The fields an alert shows, JSON-ready."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": run.id,
        "task": run.task_id,
        "task_name": run.spec.get("task_name"),
        "group_run": run.group_run_id,
        "batch_id": run.batch_id,
        "status": run.status,
        "reason": run.reason,
        "trigger_kind": run.trigger_kind,
        "trigger_time": iso(run.trigger_time),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at or at),
        "agent": run.agent,
        "exit_code": run.exit_code,
        "attempt": run.attempt,
        "instance": run.instance,
        "command": run.spec.get("command"),
    }


def _recorded(session: Session, run: Run, row: dict[str, Any]) -> None:
    if row["status"] not in _ENDINGS or run.status != row["status"]:
        return
    if _sink_of(session) is None:
        return
    session.info.setdefault(_KEY, []).append(
        Ending(
            run_id=row["run_id"],
            attempt=row["attempt"],
            status=row["status"],
            run=snapshot(run, row["at"]),
        )
    )


def _committed(session: Session) -> None:
    endings: list[Ending] | None = session.info.pop(_KEY, None)
    if endings:
        sink = _sink_of(session)
        if sink is not None:
            sink(endings)


def _rolled_back(session: Session, _previous: Any) -> None:
    session.info.pop(_KEY, None)
