"""The admission gates as the database has them now: every pool's slots, every instance's
quota, and what the runs on agents hold (TRIGGER to PAUSED). Holdings are derived from the
runs' statuses, never stored, so a run that ends by any path (end, kill, lost agent,
dispatch expiry, retry) releases its slots and locks at once."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.db.pool_tables import InstanceQuota, Pool
from app.db.tables import Run
from app.domain.admission import Holdings, Quota, ask_of
from app.domain.states import ON_AGENT


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
