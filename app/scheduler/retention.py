"""Retention: finished runs older than the configured age go, with their events, logs and
outputs, in small batches so the scheduler is never blocked for long."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.tables import GroupRun, LogChunk, Run, RunEvent, RunOutput
from app.domain.states import TERMINAL
from app.settings import Settings

BATCH = 500
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
    """Delete up to `batch` finished runs that ended before `before`; returns how many."""
    with session_scope(engine) as session:
        if fence is not None:
            fence(session)
        ids = list(
            session.exec(
                select(Run.id)
                .where(col(Run.status).in_(list(TERMINAL)), col(Run.finished_at) < before)
                .order_by(col(Run.id))
                .limit(batch)
            ).all()
        )
        if not ids:
            return 0
        for table in (LogChunk, RunEvent, RunOutput):
            session.exec(delete(table).where(col(table.run_id).in_(ids)))
        session.exec(delete(Run).where(col(Run.id).in_(ids)))
        finished = select(GroupRun.id).where(
            col(GroupRun.finished_at) < before,
            ~col(GroupRun.id).in_(
                select(Run.group_run_id).where(col(Run.group_run_id).is_not(None))
            ),
        )
        session.exec(delete(GroupRun).where(col(GroupRun.id).in_(finished)))
    if outputs_dir is not None:
        for run_id in ids:
            shutil.rmtree(outputs_dir / str(run_id), ignore_errors=True)
    return len(ids)


def prune(
    engine: Engine,
    *,
    before: datetime,
    outputs_dir: Path | None = None,
    max_batches: int = 100,
    fence: Fence | None = None,
) -> int:
    """Prune in batches (each its own transaction) until nothing is left or the cap."""
    total = 0
    for _ in range(max_batches):
        removed = prune_batch(engine, before=before, outputs_dir=outputs_dir, fence=fence)
        total += removed
        if removed == 0:
            break
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
