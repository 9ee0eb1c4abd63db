"""The admission gates as the database has them now: every pool's slots, every instance's
quota, and what the runs on agents hold (TRIGGER to PAUSED). Holdings are derived from the
runs' statuses, never stored, so a run that ends by any path (end, kill, lost agent,
dispatch expiry, retry) releases its slots and locks at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import tuple_
from sqlmodel import Session, col, or_, select

from app.db.pool_tables import InstanceQuota, Pool
from app.db.tables import Run
from app.domain.admission import Holdings, Quota, ask_of
from app.domain.states import ON_AGENT, RunStatus

DISPATCH_BATCH = 1000
LOOKAHEAD = 20_000  # runs looked at behind a first batch blocked on closed pools


def load_gates(session: Session) -> Holdings:
    pools = {(p.instance, p.name): p.slots for p in session.exec(select(Pool)).all()}
    quotas = {
        q.instance: Quota(max_runs=q.max_runs, max_cores=q.max_cores, max_gpus=q.max_gpus)
        for q in session.exec(select(InstanceQuota)).all()
    }
    gates = Holdings(pools=pools, quotas=quotas)
    # Only the spec's admission keys (a sealed environment can be large); resources only
    # where a quota counts them.
    keys: tuple[str, ...] = ("pool", "pool_slots", "locks")
    if quotas:
        keys += ("cpus", "gpus", "gpu_count")
    held = select(Run.id, Run.instance, *(Run.spec[k] for k in keys)).where(
        col(Run.status).in_(ON_AGENT)
    )
    for run_id, instance, *values in session.execute(held).all():
        gates.hold(ask_of(int(run_id or 0), instance, dict(zip(keys, values, strict=True))))
    return gates


def ready_runs(session: Session, *, now: datetime, gates: Holdings) -> Iterator[Run]:
    """Ready ACTIVE runs in queue order (priority first, then oldest; `queue_rank` is
    -priority, so one ascending index serves it), locked for this pass: the first
    DISPATCH_BATCH; then, once those are judged, up to as many more from the LOOKAHEAD runs
    behind them that do not draw from a pool closed to them, so the runs of a free pool are
    not starved behind a batch waiting for full pools."""
    order = (col(Run.queue_rank), col(Run.trigger_time), col(Run.id))
    ready = (
        Run.status == RunStatus.ACTIVE,
        or_(col(Run.not_before).is_(None), col(Run.not_before) <= now),
    )
    stmt = select(Run).where(*ready).order_by(*order)
    first = session.exec(stmt.limit(DISPATCH_BATCH).with_for_update(skip_locked=True)).all()
    yield from first
    closed = set(gates.closed_pools())
    if len(first) < DISPATCH_BATCH or not closed:
        return
    last = first[-1]
    after = tuple_(*order) > tuple_(last.queue_rank, last.trigger_time, last.id)
    # Only the pool key of the runs behind (not their specs), filtered here: a bounded scan.
    window = (
        select(Run.id, Run.instance, Run.spec["pool"].as_string())
        .where(*ready, after)
        .order_by(*order)
        .limit(LOOKAHEAD)
    )
    ids = [
        run_id
        for run_id, instance, pool in session.execute(window).all()
        if not pool or (instance, pool) not in closed
    ][:DISPATCH_BATCH]
    if ids:
        more = stmt.where(col(Run.id).in_(ids)).with_for_update(skip_locked=True)
        yield from session.exec(more).all()
