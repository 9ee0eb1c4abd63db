"""The admission gates as the database has them now: every pool's slots, every instance's
quota, and what the runs on agents hold (TRIGGER to PAUSED). Holdings are derived from the
runs' statuses, never stored, so a run that ends by any path (end, kill, lost agent,
dispatch expiry, retry) releases its slots and locks at once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, String, bindparam, cast, tuple_, update
from sqlalchemy import select as core_select
from sqlalchemy import text as sql_text
from sqlmodel import Session, col, or_, select

from app.db.pool_tables import InstanceQuota, Pool
from app.db.tables import HELD, Run
from app.domain.admission import Ask, Holdings, Quota, ask_of_columns
from app.domain.capacity import Allocation
from app.domain.states import RunStatus

DISPATCH_BATCH = 1000
LOOKAHEAD = 20_000  # runs looked at behind a first batch blocked on closed pools
_RUN = Run.metadata.tables["run"]  # Core statements: many single-row UPDATEs in one call
_SHARED = 8  # runs that share a reason are written with one UPDATE from this many
_SEP = "\x1f"  # between an instance and a pool name in a key (neither holds it)


def load_gates(session: Session) -> Holdings:
    """Pools, quotas and what the runs on agents hold of them."""
    return load_held(session, agents=False).gates


@dataclass
class Held:
    """What the runs on agents hold, read once a pass: the runs and resources each agent
    holds, the gates' holdings (pools, locks, quotas) and the tasks with a run on an agent."""

    running: dict[str, int]
    allocated: dict[str, Allocation]
    gates: Holdings
    tasks: set[int]


def load_held(session: Session, *, agents: bool = True) -> Held:
    """One read of the runs on agents for the whole pass (with `agents`, also the agent,
    allocation and task of each; else the gates alone). What each asks of the gates is read
    from its plain admission columns (`admission_columns`), never its spec's JSON; cores and
    GPUs only where a quota counts them. Each distinct ask is worked out once (held runs
    mostly ask alike), and a held run that draws from no pool and holds no lock counts only
    towards its instance's usage: such runs are counted by kind, not one by one."""
    rows = session.exec(select(Pool.instance, Pool.name, Pool.slots)).all()
    pools = {(instance, name): slots for instance, name, slots in rows}
    quotas = {
        q.instance: Quota(max_runs=q.max_runs, max_cores=q.max_cores, max_gpus=q.max_gpus)
        for q in session.exec(select(InstanceQuota)).all()
    }
    gates = Holdings(pools=pools, quotas=quotas)
    held = _held_statement(bool(quotas), agents)
    width = 1 + (len(_ASKING) if quotas else 4)
    running: dict[str, int] = {}
    allocated: dict[str, Allocation] = {}
    tasks: set[int] = set()
    alike: dict[tuple[Any, ...], int] = {}  # (instance, cores, gpus) -> runs without pool/locks
    asks: dict[tuple[Any, ...], Ask] = {}
    session.flush()  # read past the ORM: what this session changed must be there first
    rows_held: Iterable[Any] = session.connection().execute(held).all()
    for row in rows_held:
        if agents:
            name, text, task_id = row[width:]
            if name:
                running[name] = running.get(name, 0) + 1
                if text and text != "null":
                    one = _allocation(text)
                    if one is not None:
                        known = allocated.get(name)
                        if known is None:
                            known = allocated[name] = Allocation()
                        known.add(one)
            if task_id is not None:
                tasks.add(int(task_id))
        key = row[1:width]
        if not key[1] and not key[3]:  # no pool, no locks
            alike[key] = alike.get(key, 0) + 1
            continue
        ask = asks.get(key)
        if ask is None:  # held runs mostly ask alike: each distinct ask is worked out once
            ask = asks[key] = ask_of_columns(0, *key)
        gates.hold(ask, run_id=int(row[0] or 0))
    for key, count in alike.items():
        gates.hold_alike(ask_of_columns(0, *key), count)
    return Held(running=running, allocated=allocated, gates=gates, tasks=tasks)


# The admission columns in `ask_of_columns`'s order (cores and GPUs last: only quotas count them).
_ASKING = (
    col(Run.instance),
    col(Run.pool),
    col(Run.pool_slots),
    col(Run.locks),
    col(Run.cores),
    col(Run.gpus),
)


@lru_cache(maxsize=4)
def _held_statement(quotas: bool, agents: bool) -> Select[*tuple[Any, ...]]:
    """What `load_held` reads of the runs on agents, built once for each shape (every
    dispatch pass reads it; building it cost more than running it with few runs held)."""
    asking = _ASKING if quotas else _ASKING[:4]
    extra = (col(Run.agent), cast(Run.allocation, String), col(Run.task_id)) if agents else ()
    return core_select(col(Run.id), *asking, *extra).where(sql_text(HELD))  # ix_run_held


@lru_cache(maxsize=4096)
def _allocation(text: str) -> Allocation | None:
    """One held allocation, decoded (shared: only ever added from, never changed)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return Allocation.from_json(data) if isinstance(data, dict) else None


_ORDER = (col(Run.queue_rank), col(Run.trigger_time), col(Run.id))


def _ready(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (
        col(Run.status) == RunStatus.ACTIVE,
        or_(col(Run.not_before).is_(None), col(Run.not_before) <= now),
    )


@dataclass(frozen=True, slots=True)
class Ready:
    """A ready ACTIVE run as a pass judges it before it claims it: no ORM row, no row lock
    (most runs read in a pass only wait, and a waiting run needs no more)."""

    id: int
    instance: str
    task_id: int | None
    group_run_id: int | None
    ignore_upstreams: bool
    reason: str | None
    spec: dict[str, Any]
    queue_rank: int
    trigger_time: datetime | None
    # What it asks of the gates (the run's admission columns: `ask_of_row`).
    pool: str | None
    pool_slots: int
    locks: str | None
    cores: float
    gpus: int


class Keyed(Protocol):
    """A place in the queue: where the next page starts."""

    @property
    def id(self) -> int | None: ...
    @property
    def queue_rank(self) -> int: ...
    @property
    def trigger_time(self) -> datetime | None: ...


def _behind(last: Keyed) -> ColumnElement[bool]:
    return tuple_(*_ORDER) > tuple_(last.queue_rank, last.trigger_time, last.id)


def ready_page(session: Session, *, now: datetime, after: Keyed | None = None) -> list[Ready]:
    """The next DISPATCH_BATCH ready ACTIVE runs in queue order (priority first, then
    oldest; `queue_rank` is -priority, so one ascending index serves it), after `after`, as
    plain rows (`Ready`): the columns judging reads (what it asks of the gates among them)
    and the spec as text, each distinct text decoded once a page (runs of one task are
    alike). Nothing is locked: a run the pass would start is claimed (`claim`) before it
    is."""
    stmt = core_select(
        col(Run.id),
        col(Run.instance),
        col(Run.task_id),
        col(Run.group_run_id),
        col(Run.ignore_upstreams),
        col(Run.reason),
        cast(Run.spec, String),
        col(Run.queue_rank),
        col(Run.trigger_time),
        *_ASKING[1:],
    ).where(*_ready(now))
    if after is not None:
        stmt = stmt.where(_behind(after))
    stmt = stmt.order_by(*_ORDER).limit(DISPATCH_BATCH)
    specs: dict[str, dict[str, Any]] = {}
    page = []
    session.flush()  # read past the ORM: what this session changed must be there first
    rows: Iterable[Any] = session.connection().execute(stmt).all()
    for run_id, instance, task_id, group_run_id, ignore, reason, text, *rest in rows:
        spec = specs.get(text)
        if spec is None:
            spec = specs[text] = json.loads(text)
        ignores = bool(ignore)
        page.append(Ready(run_id, instance, task_id, group_run_id, ignores, reason, spec, *rest))
    return page


def claim(session: Session, *, now: datetime, ids: Sequence[int]) -> list[Run]:
    """The runs of `ids` still ready, as ORM rows locked for this pass (one another pass
    holds is skipped), in queue order."""
    if not ids:
        return []
    stmt = (
        select(Run)
        .where(col(Run.id).in_(ids), *_ready(now))
        .order_by(*_ORDER)
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(stmt).all())


def write_reasons(session: Session, waits: Mapping[str, Sequence[int]]) -> None:
    """Store why each of these ACTIVE runs waits: one UPDATE for the runs that share a
    reason, one batch of single-row UPDATEs for reasons few runs share (they often name
    runs and counts). A run another transaction holds locked is left as it is, as a pass
    skips it."""
    alone: list[dict[str, Any]] = []
    for reason, ids in waits.items():
        if len(ids) < _SHARED:
            alone += ({"run_id": i, "why": reason} for i in ids)
            continue
        for start in range(0, len(ids), DISPATCH_BATCH):
            chunk = ids[start : start + DISPATCH_BATCH]
            free = (
                select(Run.id)
                .where(col(Run.id).in_(chunk), col(Run.status) == RunStatus.ACTIVE)
                .with_for_update(skip_locked=True)
            )
            session.execute(
                update(Run).where(col(Run.id).in_(free)).values(reason=reason),
                execution_options={"synchronize_session": False},
            )
    if alone:
        # Locked first (skipping rows another transaction holds), then one batch of
        # single-row UPDATEs of the rows now this pass's alone.
        ids = [row["run_id"] for row in alone]
        mine: set[int] = set()
        for start in range(0, len(ids), DISPATCH_BATCH):
            lock = (
                core_select(col(Run.id))
                .where(
                    col(Run.id).in_(ids[start : start + DISPATCH_BATCH]),
                    col(Run.status) == RunStatus.ACTIVE,
                )
                .with_for_update(skip_locked=True)
            )
            mine.update(int(i or 0) for i in session.connection().execute(lock).scalars())
        rows = [row for row in alone if row["run_id"] in mine]
        if rows:
            stmt = (
                update(_RUN).where(_RUN.c.id == bindparam("run_id")).values(reason=bindparam("why"))
            )
            session.connection().execute(stmt, rows)


def lookahead(session: Session, *, now: datetime, gates: Holdings, last: Keyed) -> list[Run]:
    """Up to DISPATCH_BATCH runs from the LOOKAHEAD behind `last` that do not draw from a
    pool closed to them: a page that placed nothing (waiting for full pools) does not starve
    the runs of a free pool behind it."""
    closed = gates.closed_pools()
    if not closed:
        return []
    after = _behind(last)
    # The window behind is filtered in the database (only ids come back): with every pool
    # full, a pass reads nothing of the runs behind.
    window = (
        core_select(col(Run.id), col(Run.instance), col(Run.pool), *_ORDER[:2])
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
