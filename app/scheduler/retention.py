"""Retention: finished runs older than the configured age go, with their events, logs and
outputs, in small batches so the scheduler is never blocked for long: each batch is its own
transaction, and a pause twice as long as the batch follows it (firing takes the database
then)."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, Engine, delete, exists
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.plan_hints import unindexed
from app.db.tables import GroupRun, LogChunk, Run, RunEvent, RunOutput
from app.domain.states import TERMINAL
from app.settings import Settings

BATCH = 200  # runs a transaction: short enough that firing never waits long for the database
PAUSE_FACTOR = 2  # the pause after a batch, in multiples of the time the batch took
MAX_PAUSE = 1.0  # seconds between batches at most
Fence = Callable[[Session], None]  # raises unless this server may still do leader work

log = logging.getLogger("almanac.scheduler")


def prune_batch(
    engine: Engine,
    *,
    before: datetime,
    outputs_dir: Path | None = None,
    batch: int = BATCH,
    fence: Fence | None = None,
) -> int:
    """Delete up to `batch` finished runs that ended before `before`, and the group runs they
    leave empty; returns how many runs."""
    with session_scope(engine) as session:
        if fence is not None:
            fence(session)
        # Oldest first by id: on SQLite the status index would make it read and sort every
        # finished run at each batch (seconds at a million runs; db/plan_hints.py).
        status = unindexed(session, Run.__table__.c.status)  # type: ignore[attr-defined]
        rows = session.exec(
            select(Run.id, Run.group_run_id)
            .where(status.in_(list(TERMINAL)), col(Run.finished_at) < before)
            .order_by(col(Run.id))
            .limit(batch)
        ).all()
        ids = [run_id for run_id, _ in rows if run_id is not None]
        if not ids:
            return 0
        for table in (LogChunk, RunEvent, RunOutput):
            session.exec(delete(table).where(col(table.run_id).in_(ids)))
        session.exec(delete(Run).where(col(Run.id).in_(ids)))
        # Only the group runs of this batch's runs: one index probe each, where a search of
        # every group run against every run grows with the history.
        group_runs = sorted({gr for _, gr in rows if gr is not None})
        if group_runs:
            session.exec(
                delete(GroupRun).where(
                    col(GroupRun.id).in_(group_runs),
                    col(GroupRun.finished_at) < before,
                    ~_has_runs(),
                )
            )
    if outputs_dir is not None:
        for run_id in ids:
            shutil.rmtree(outputs_dir / str(run_id), ignore_errors=True)
    return len(ids)


def prune_empty_group_runs(
    engine: Engine, *, before: datetime, batch: int = BATCH, fence: Fence | None = None
) -> int:
    """Delete up to `batch` group runs that ended before `before` and hold no run (those left
    by an older version, or that never made one); returns how many."""
    with session_scope(engine) as session:
        if fence is not None:
            fence(session)
        ids = list(
            session.exec(
                select(GroupRun.id)
                .where(col(GroupRun.finished_at) < before, ~_has_runs())
                .order_by(col(GroupRun.id))
                .limit(batch)
            ).all()
        )
        if ids:
            session.exec(delete(GroupRun).where(col(GroupRun.id).in_(ids)))
        return len(ids)


def _has_runs() -> ColumnElement[bool]:
    return exists().where(col(Run.group_run_id) == col(GroupRun.id))


def prune(
    engine: Engine,
    *,
    before: datetime,
    outputs_dir: Path | None = None,
    max_batches: int | None = None,
    fence: Fence | None = None,
    pause: Callable[[float], None] = time.sleep,
) -> int:
    """Prune in batches, each its own short transaction, until nothing is left (or
    `max_batches`). After each batch it pauses twice as long as the batch took, so firing,
    dispatch and agents' reports find the database free two thirds of the time however much
    is to go."""
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        began = time.monotonic()
        removed = prune_batch(engine, before=before, outputs_dir=outputs_dir, fence=fence)
        total += removed
        batches += 1
        if removed == 0:
            break
        pause(min(PAUSE_FACTOR * (time.monotonic() - began), MAX_PAUSE))
    while prune_empty_group_runs(engine, before=before, fence=fence):
        pass
    return total


def prune_expired(engine: Engine, settings: Settings, now: datetime, fence: Fence) -> int:
    """The runs that finished more than `settings.retention_days` before `now`, with their
    outputs (the leader's hourly job; NotLeader from `fence` when it no longer leads)."""
    assert settings.retention_days is not None
    before = now - timedelta(days=settings.retention_days)
    removed = prune(engine, before=before, outputs_dir=settings.data_dir / "outputs", fence=fence)
    if removed:
        log.info("retention: pruned %d runs finished before %s", removed, before)
    return removed
