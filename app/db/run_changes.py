"""A run's status change as an event (`RunTransitioned`), with what an alert needs of an end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.db.tables import Run
from app.domain.events import RunTransitioned

_ENDINGS = frozenset({"SUCCESS", "FAILED"})


def transitioned(run: Run, row: dict[str, Any]) -> RunTransitioned:
    """The event for a timeline `row` just recorded on `run`. An attempt's end carries the
    run's fields as they are now: a retry may change the row later in the transaction."""
    ended = None
    if row["status"] in _ENDINGS and run.status == row["status"]:
        ended = snapshot(run, row["at"])
    return RunTransitioned(
        run_id=row["run_id"],
        attempt=row["attempt"],
        status=row["status"],
        at=row["at"],
        ended=ended,
    )


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
