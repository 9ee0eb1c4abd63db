"""What planning wrote ahead for tasks (their IDLE occurrence, the skips still to come), and
keeping what a new pass plans again identically: a re-plan that changes nothing for a task
(half the tasks of a calendar edit keep their next fire) writes nothing for it; only the
rows that differ are forgotten and written again (each row on `run` updates a dozen
indexes, and a calendar edit re-plans tens of thousands of tasks).

A row is kept only when every column planning writes, less the instants it wrote them at,
and its one event are what the new pass would write: the ledger reads the same either way."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_
from sqlmodel import Session, col, select

from app.db.plan_hints import unindexed
from app.db.runs import NEW_ROW_DEFAULTS
from app.db.tables import Run, RunEvent
from app.domain.states import RunStatus, TriggerKind

CALENDAR_SKIP = "skipped: calendar"
DST_SKIP = "skipped: dst"
BLACKOUT_SKIP = "blackout:"
# Skips recorded ahead when planning (reason prefixes): a re-plan forgets those still to come.
PLANNED_SKIPS = (CALENDAR_SKIP, DST_SKIP, BLACKOUT_SKIP)

# The columns a stored plan is compared on: what `runs.run_values` and admission write, less
# created_at, updated_at and finished_at (when it was written, not what).
COMPARED = (
    "status",
    "trigger_time",
    "business_date",
    "reason",
    "task_id",
    "task_version",
    "instance",
    "priority",
    "queue_rank",
    "spec",
    "params",
    "spec_digest",
    "batch_id",
    "created_by",
    "group_run_id",
    "ignore_upstreams",
)
_READ = [Run.id, Run.occurrence_key, *(getattr(Run, name) for name in COMPARED)]


def planned_skip(reason: Any) -> ColumnElement[bool]:
    """Whether a reason column says the row is a skip recorded ahead by planning."""
    return or_(*(reason.startswith(prefix) for prefix in PLANNED_SKIPS))


@dataclass
class Ahead:
    """The rows planned ahead for some tasks: by occurrence key, with their compared values."""

    by_key: dict[str, tuple[int, tuple[Any, ...]]] = field(default_factory=dict)
    unkeyed: list[int] = field(default_factory=list)  # never matched: always forgotten

    def keep(self, session: Session, rows: Sequence[tuple[dict[str, Any], str]]) -> dict[str, int]:
        """The rows of `rows` (column values, event detail) stored identically already:
        occurrence key -> the stored run's id. They leave `by_key`; what remains there is
        what the pass no longer plans (see `forget`)."""
        candidates: dict[int, tuple[str, str]] = {}  # run id -> (key, event status and detail)
        for values, detail in rows:
            key = values["occurrence_key"]
            held = self.by_key.get(key)
            if held is not None and held[1] == compared(values):
                candidates[held[0]] = (key, f"{RunStatus(values['status']).value}\n{detail}")
        events: dict[int, list[str]] = {}
        for chunk in _chunks(list(candidates)):
            stmt = select(RunEvent.run_id, RunEvent.status, RunEvent.detail).where(
                col(RunEvent.run_id).in_(chunk)
            )
            for run_id, status, detail in session.exec(stmt).all():
                events.setdefault(run_id, []).append(f"{RunStatus(status).value}\n{detail}")
        kept: dict[str, int] = {}
        for run_id, (key, event) in candidates.items():
            if events.get(run_id) == [event]:
                kept[key] = run_id
                del self.by_key[key]
        return kept

    def forget(self, session: Session) -> None:
        """Delete (with their events) the rows planned ahead that were not kept."""
        ids = [run_id for run_id, _ in self.by_key.values()] + self.unkeyed
        for chunk in _chunks(ids):
            session.exec(delete(RunEvent).where(col(RunEvent.run_id).in_(chunk)))
            session.exec(delete(Run).where(col(Run.id).in_(chunk)))
        self.by_key.clear()
        self.unkeyed.clear()


def compared(values: dict[str, Any]) -> tuple[Any, ...]:
    """A new row's compared values (column values as `runs.settle_rows` completes them)."""
    return tuple(values.get(name, NEW_ROW_DEFAULTS.get(name)) for name in COMPARED)


def planned_ahead(session: Session, task_ids: Sequence[int], now: datetime) -> Ahead:
    """What was planned ahead for `task_ids`: the IDLE occurrence, the skips still to come."""
    ahead = Ahead()
    # Through the task index: SQLite would read every IDLE run through the status index for
    # each chunk (a calendar edit's chunks made that a quarter of its time; db/plan_hints.py).
    status = unindexed(session, Run.__table__.c.status)  # type: ignore[attr-defined]
    for chunk in _chunks(task_ids):
        stmt = select(*_READ).where(
            col(Run.task_id).in_(chunk),
            Run.trigger_kind == TriggerKind.SCHEDULE,
            (status == RunStatus.IDLE)
            | (
                (status == RunStatus.SKIPPED)
                & (col(Run.trigger_time) > now)
                & planned_skip(col(Run.reason))
            ),
        )
        for run_id, key, *values in session.exec(stmt).all():
            if key:
                ahead.by_key[key] = (run_id, tuple(values))
            else:
                ahead.unkeyed.append(run_id)
    return ahead


def _chunks(ids: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    """Keeps IN lists within every database's limit on bound parameters."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
