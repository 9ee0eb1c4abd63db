"""Runs in the caller's scope: a filtered page of the history, one run with its timeline and
what it waits for, a page of its log lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.db.logs import read_lines
from app.db.plan_hints import unindexed
from app.db.runs import get_run, run_events
from app.db.sealing import box_or_none
from app.db.tables import Run, Task
from app.domain.states import RunStatus
from app.errors import InvalidInput
from app.hub.hub import AgentHub
from app.models.schemas import LogPagePublic, RunDetail, RunPage
from app.scheduler.dispatch import allocations, offline_slots, running_counts
from app.scheduler.why import waiting_for
from app.services.actor import Actor
from app.services.env_view import reveals_env, run_spec_fields
from app.services.run_search import RunQuery
from app.services.runs_view import run_detail, run_public
from app.services.scope import InstanceScope

Stream = Literal["stdout", "stderr"]
_NAMED_IDS = 200  # task ids a search puts in its query as a list
_WAITING = {RunStatus.IDLE.value, RunStatus.ACTIVE.value, RunStatus.PENDING_APPROVAL.value}


def visible_run(session: Session, scope: InstanceScope, run_id: int) -> Run:
    """The run, or NotFound when it does not exist or lies outside the scope."""
    run = get_run(session, run_id)
    scope.check(run.instance, "run", run_id)
    return run


def list_runs(
    session: Session,
    *,
    actor: Actor,
    status: list[RunStatus] | None = None,
    task: int | None = None,
    group: int | None = None,
    batch: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
    page: int = 1,
    page_size: int = 50,
    before: int | None = None,
    after: int | None = None,
    more: RunQuery | None = None,
) -> RunPage:
    """Newest first; `since` / `until` bound the trigger time and must carry an offset;
    `more` narrows further and may order otherwise (app/services/run_search.py).

    Pages by key when given a cursor: `before` (the runs older than that run id) or `after`
    (the `page_size` runs just newer than it); `page` is then only the page's number. Deep
    pages cost the same as the first one, where an offset walks every run it skips. Cursors
    follow the newest-first order only: with another sort, pages go by number."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(name, "must carry a UTC offset")
    stmt = select(Run).order_by(col(Run.id).desc())
    if status:
        stmt = stmt.where(col(Run.status).in_([s.value for s in status]))
    if task is not None:
        stmt = stmt.where(Run.task_id == task)
    if batch is not None:
        stmt = stmt.where(Run.batch_id == batch)
    # SQLite would read a status's whole time range and sort it (db/plan_hints.py).
    trigger = unindexed(session, Run.__table__.c.trigger_time)  # type: ignore[attr-defined]
    if since is not None:
        stmt = stmt.where(trigger >= since)
    if until is not None:
        stmt = stmt.where(trigger < until)
    narrowed = _by_tasks(session, stmt, group, q)
    if narrowed is None:  # no task matches: no run to look for
        return RunPage(items=[], page=page, page_size=page_size, has_more=False)
    stmt = narrowed
    if more is not None:
        stmt = more.narrow(stmt)
    stmt = actor.scope.filter(stmt, Run.instance)
    reordered = more is not None and more.reorders
    split = more.split(stmt) if more is not None else None
    if split is not None:
        _no_cursors(before, after)
        return _split_page(session, *split, page=page, page_size=page_size)
    return _page(
        session,
        stmt,
        page=page,
        page_size=page_size,
        before=before,
        after=after,
        keyed=not reordered,
    )


def _no_cursors(before: int | None, after: int | None) -> None:
    for name, cursor in (("before", before), ("after", after)):
        if cursor is not None:
            raise InvalidInput(name, "pages by key follow newest first: use page with sort")


def _split_page(
    session: Session,
    present: SelectOfScalar[Run],
    absent: SelectOfScalar[Run],
    *,
    page: int,
    page_size: int,
) -> RunPage:
    """Page `page` of the runs of `present` followed by those of `absent` (each read down
    an index). The runs in `present` are counted only for a page past their end."""
    skip = (page - 1) * page_size
    rows = list(session.exec(present.offset(skip).limit(page_size + 1)).all())
    if len(rows) <= page_size:
        if rows:
            valued = skip + len(rows)
        else:
            counted = select(func.count()).select_from(present.order_by(None).subquery())
            valued = int(session.exec(counted).one())
        rest = absent.offset(max(0, skip - valued)).limit(page_size + 1 - len(rows))
        rows += session.exec(rest).all()
    items = [run_public(r) for r in rows[:page_size]]
    return RunPage(items=items, page=page, page_size=page_size, has_more=len(rows) > page_size)


def _by_tasks(
    session: Session, stmt: SelectOfScalar[Run], group: int | None, q: str | None
) -> SelectOfScalar[Run] | None:
    """`stmt` narrowed to the group's tasks and to the tasks named like `q`; None when no
    task matches. The group's ids go in as literals: the planner then sees how many runs
    they hold (a subquery hides it, and PostgreSQL sorts them all instead of reading down
    the ids)."""
    if group is not None:
        rows = session.exec(select(Task.id).where(Task.group_id == group)).all()
        members = sorted(tid for tid in rows if tid is not None)
        if not members:
            return None
        stmt = stmt.where(col(Run.task_id).in_(members))
    if q:
        named = _named_tasks(session, q)
        if named is None:
            return None
        stmt = stmt.where(col(Run.task_id).in_(named))
    return stmt


def _page(
    session: Session,
    stmt: SelectOfScalar[Run],
    *,
    page: int,
    page_size: int,
    before: int | None,
    after: int | None,
    keyed: bool,
) -> RunPage:
    if not keyed:
        _no_cursors(before, after)
    if after is not None:  # walk up from the cursor, then show newest first
        stmt = stmt.where(col(Run.id) > after).order_by(None).order_by(col(Run.id))
        newer = session.exec(stmt.limit(page_size)).all()
        items = [run_public(r) for r in reversed(newer)]
        return RunPage(items=items, page=page, page_size=page_size, has_more=True)
    if before is not None:
        stmt = stmt.where(col(Run.id) < before)
    else:
        stmt = stmt.offset((page - 1) * page_size)
    rows = session.exec(stmt.limit(page_size + 1)).all()
    items = [run_public(r) for r in rows[:page_size]]
    return RunPage(items=items, page=page, page_size=page_size, has_more=len(rows) > page_size)


def _named_tasks(session: Session, q: str) -> list[int] | SelectOfScalar[Any] | None:
    """The tasks whose name contains `q`, looked up first: none, no run to search for (a
    database walks every run otherwise); a short list of ids lets it use the task index; a
    name that matches very many tasks stays a subquery."""
    named = select(Task.id).where(col(Task.name).contains(q, autoescape=True))
    found = session.exec(named.limit(_NAMED_IDS + 1)).all()
    if not found:
        return None
    return sorted(i for i in found if i is not None) if len(found) <= _NAMED_IDS else named


def read_run(
    session: Session, *, actor: Actor, run_id: int, hub: AgentHub, now: datetime
) -> RunDetail:
    """The run with its timeline, its spec as the caller may see it, and, while it waits,
    every blocker (with the agents connected to `hub` right now)."""
    run = visible_run(session, actor.scope, run_id)
    events = run_events(session, run_id)
    spec = run_spec_fields(run, reveals_env(actor.role), box_or_none(session))
    return run_detail(run, events, _blockers(session, run, hub, now), spec=spec)


def waits_for(
    session: Session, *, actor: Actor, run_id: int, hub: AgentHub, now: datetime
) -> list[dict[str, Any]]:
    """Every blocker of an IDLE or ACTIVE run (empty for any other status)."""
    return _blockers(session, visible_run(session, actor.scope, run_id), hub, now)


def _blockers(session: Session, run: Run, hub: AgentHub, now: datetime) -> list[dict[str, Any]]:
    if run.status not in _WAITING:
        return []  # nothing to explain, and no need to count every agent's runs
    slots = hub.slots(running_counts(session), allocations(session))
    return waiting_for(session, run, agents=slots, now=now, offline=offline_slots(session, slots))


def read_logs(
    session: Session,
    *,
    actor: Actor,
    run_id: int,
    stream: Stream = "stdout",
    page: int = 1,
    page_size: int = 500,
    attempt: int | None = None,
) -> LogPagePublic:
    run = visible_run(session, actor.scope, run_id)
    chosen = attempt or run.attempt
    result = read_lines(
        session, run_id=run_id, attempt=chosen, stream=stream, page=page, page_size=page_size
    )
    return LogPagePublic(
        run=run_id,
        attempt=chosen,
        stream=stream,
        page=page,
        page_size=page_size,
        first_line=result.first_line,
        total_lines=result.total_lines,
        total_bytes=result.total_bytes,
        lines=result.lines,
        times=result.times,
    )
