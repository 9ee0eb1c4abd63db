"""The admission gates as the database has them now: every pool's slots, every instance's
quota, and what the runs on agents hold (TRIGGER to PAUSED). Holdings are derived from the
runs' statuses, never stored, so a run that ends by any path (end, kill, lost agent,
dispatch expiry, retry) releases its slots and locks at once."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, String, cast, tuple_
from sqlalchemy import select as core_select
from sqlmodel import Session, col, or_, select

from app.db.pool_tables import InstanceQuota, Pool
from app.db.tables import Run
from app.domain.admission import Holdings, Quota, ask_of
from app.domain.states import ON_AGENT, RunStatus

DISPATCH_BATCH = 1000
LOOKAHEAD = 20_000  # runs looked at behind a first batch blocked on closed pools
_SEP = "\x1f"  # between an instance and a pool name in a key (neither holds it)


def load_gates(session: Session) -> Holdings:
    rows = session.exec(select(Pool.instance, Pool.name, Pool.slots)).all()
    pools = {(instance, name): slots for instance, name, slots in rows}
    quotas = {
        q.instance: Quota(max_runs=q.max_runs, max_cores=q.max_cores, max_gpus=q.max_gpus)
        for q in session.exec(select(InstanceQuota)).all()
    }
    gates = Holdings(pools=pools, quotas=quotas)
    # Only the spec's admission keys (a sealed environment can be large), read as text and
    # decoded once per distinct value (held runs mostly ask alike); resources only where a
    # quota counts them.
    keys: tuple[str, ...] = ("pool", "pool_slots", "locks")
    if quotas:
        keys += ("cpus", "gpus", "gpu_count")
    held = select(Run.id, Run.instance, *(cast(Run.spec[k], String) for k in keys)).where(
        col(Run.status).in_(ON_AGENT)
    )
    for run_id, instance, *values in session.execute(held).all():
        spec = {k: _json(v) for k, v in zip(keys, values, strict=True) if v is not None}
        gates.hold(ask_of(int(run_id or 0), instance, spec))
    return gates


@lru_cache(maxsize=4096)
def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # a bare string where the backend unquoted it


_ORDER = (col(Run.queue_rank), col(Run.trigger_time), col(Run.id))


def _ready(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (
        col(Run.status) == RunStatus.ACTIVE,
        or_(col(Run.not_before).is_(None), col(Run.not_before) <= now),
    )


def ready_page(session: Session, *, now: datetime, after: Run | None = None) -> list[Run]:
    """The next DISPATCH_BATCH ready ACTIVE runs in queue order (priority first, then
    oldest; `queue_rank` is -priority, so one ascending index serves it), after `after`,
    locked for this pass."""
    stmt = select(Run).where(*_ready(now))
    if after is not None:
        stmt = stmt.where(tuple_(*_ORDER) > tuple_(after.queue_rank, after.trigger_time, after.id))
    stmt = stmt.order_by(*_ORDER).limit(DISPATCH_BATCH).with_for_update(skip_locked=True)
    return list(session.exec(stmt).all())


def lookahead(session: Session, *, now: datetime, gates: Holdings, last: Run) -> list[Run]:
    """Up to DISPATCH_BATCH runs from the LOOKAHEAD behind `last` that do not draw from a
    pool closed to them: a page that placed nothing (waiting for full pools) does not starve
    the runs of a free pool behind it."""
    closed = gates.closed_pools()
    if not closed:
        return []
    after = tuple_(*_ORDER) > tuple_(last.queue_rank, last.trigger_time, last.id)
    # The window behind is filtered in the database (only ids come back): with every pool
    # full, a pass reads nothing of the runs behind.
    pool = Run.spec["pool"].as_string()
    window = (
        core_select(col(Run.id), col(Run.instance), pool.label("pool"), *_ORDER[:2])
        .where(*_ready(now), after)
        .order_by(*_ORDER)
        .limit(LOOKAHEAD)
        .subquery()
    )
    shut = [f"{instance}{_SEP}{name}" for instance, name in closed]
    ids = list(
        session.execute(
            select(window.c.id)
            .where(
                or_(
                    window.c.pool.is_(None),
                    window.c.pool == "",
                    (window.c.instance + _SEP + window.c.pool).not_in(shut),
                )
            )
            .order_by(window.c.queue_rank, window.c.trigger_time, window.c.id)
            .limit(DISPATCH_BATCH)
        ).scalars()
    )
    if not ids:
        return []
    more = (
        select(Run).where(col(Run.id).in_(ids)).order_by(*_ORDER).with_for_update(skip_locked=True)
    )
    return list(session.exec(more).all())
