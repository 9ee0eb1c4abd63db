"""Firing: due IDLE occurrences become ACTIVE runs, unless a policy says otherwise.

Every decision leaves a trace on the run: `skipped: frozen`, `skipped: overlap`,
`missed: scheduler down`, `coalesced`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.db.run_commands import apply
from app.db.runs import create_run, task_spec
from app.db.tables import Freeze, Run, Task
from app.domain import run_commands as c
from app.domain.policies import ConcurrencyPolicy, MisfirePolicy, decide_misfires
from app.domain.states import ON_AGENT, RunStatus, TriggerKind
from app.domain.timing import timing_next_fire
from app.scheduler.planner import Calendars, occurrence_key, plan_tasks

# Occurrences handled per pass: a burst is fired and dispatched in slices, so the agents
# start on the first slice while the next ones are being written.
FIRE_BATCH = 250
# Later than this, an occurrence was missed (no scheduler was up), not merely busy.
ON_TIME = timedelta(seconds=60)
# How many missed occurrences of one task are enumerated after a long downtime.
MAX_MISSED_TRACES = 1000
_GOING = [RunStatus.ACTIVE, *ON_AGENT]


@dataclass(frozen=True)
class FireResult:
    activated: list[int]
    skipped: list[int]
    task_ids: list[int]  # tasks whose next occurrence must be planned now
    delays: list[float]  # seconds from trigger time to ACTIVE, per on-time occurrence
    handled: int = 0  # due occurrences taken in this pass (FIRE_BATCH: maybe more are due)


def fire_due(session: Session, *, now: datetime) -> FireResult:
    """Handle every IDLE occurrence due at `now`.

    Planning what follows is left to `plan_next`, in its own transaction, so that the
    activated runs are committed and dispatched without waiting for it.
    """
    stmt = (
        select(Run)
        .where(
            Run.status == RunStatus.IDLE,
            col(Run.trigger_time) <= now,
            col(Run.task_id).is_not(None),
        )
        .order_by(col(Run.trigger_time))
        .limit(FIRE_BATCH)
        .with_for_update(skip_locked=True)
    )
    due: Sequence[Run] = session.exec(stmt).all()
    tasks = _tasks_by_id(session, {run.task_id for run in due if run.task_id is not None})
    policy = _Policy.load(session, tasks.values())
    calendars = Calendars(session)
    activated: list[int] = []
    skipped: list[int] = []
    delays: list[float] = []
    for run in due:
        task = tasks[run.task_id or 0]
        assert run.trigger_time is not None
        if now - run.trigger_time > ON_TIME:
            runs = _replay_misfires(session, task, run, now, calendars, policy)
        else:
            runs = [_activate(session, task, run, now, policy)]
            delays.append((now - run.trigger_time).total_seconds())
        for fired in runs:
            (activated if fired.status == RunStatus.ACTIVE else skipped).append(fired.id or 0)
    return FireResult(
        activated=activated,
        skipped=skipped,
        task_ids=sorted(tasks),
        delays=delays,
        handled=len(due),
    )


def plan_next(
    session: Session, task_ids: Sequence[int], *, now: datetime
) -> dict[int, datetime | None]:
    """Plan the next occurrence of each task; returns task id -> its new next fire time."""
    tasks = list(_tasks_by_id(session, set(task_ids)).values())
    plan_tasks(session, tasks, now=now)
    return {task.id or 0: task.next_fire_time for task in tasks}


@dataclass
class _Policy:
    """What the firing policies ask of the database, loaded once for a whole pass: a burst
    of a thousand due occurrences costs two queries, not two thousand."""

    frozen: dict[tuple[str, int, date], str]  # (owner kind, owner id, local date) -> reason
    going: dict[int, tuple[int, str]]  # task id -> (run id, status) of a run still going

    @classmethod
    def load(cls, session: Session, tasks: Iterable[Task]) -> _Policy:
        task_ids = {task.id or 0 for task in tasks}
        group_ids = {task.group_id for task in tasks if task.group_id is not None}
        frozen: dict[tuple[str, int, date], str] = {}
        owners = col(Freeze.task_id).in_(task_ids) | col(Freeze.group_id).in_(group_ids)
        for row in session.exec(select(Freeze).where(owners)).all():
            kind, key = (
                ("task", row.task_id) if row.task_id is not None else ("group", row.group_id)
            )
            frozen[(kind, key or 0, row.day)] = row.reason
        going: dict[int, tuple[int, str]] = {}
        stmt = (
            select(Run.task_id, Run.id, Run.status)
            .where(col(Run.task_id).in_(task_ids), col(Run.status).in_(_GOING))
            .order_by(col(Run.id))
        )
        for task_id, run_id, status in session.exec(stmt).all():
            going.setdefault(task_id or 0, (run_id or 0, status))
        return cls(frozen=frozen, going=going)

    def frozen_reason(self, task: Task, at: datetime) -> str | None:
        zone = ZoneInfo(str((task.schedule or {}).get("timezone") or "UTC"))
        day = at.astimezone(zone).date()
        reason = self.frozen.get(("task", task.id or 0, day))
        if reason is None and task.group_id is not None:
            reason = self.frozen.get(("group", task.group_id, day))
        if reason is None:
            return None
        return f"{day.isoformat()}{': ' + reason if reason else ''}"


def _activate(session: Session, task: Task, run: Run, now: datetime, policy: _Policy) -> Run:
    """One occurrence on time: frozen date and overlap policy first, then ACTIVE."""
    assert run.trigger_time is not None
    late_ms = (now - run.trigger_time).total_seconds() * 1000
    frozen = policy.frozen_reason(task, run.trigger_time)
    if frozen is not None:
        apply(session, run, c.Skip(f"skipped: frozen ({frozen})"), now=now)
        return run
    going = policy.going.get(task.id or 0)
    if task.concurrency == ConcurrencyPolicy.SKIP.value and going is not None:
        apply(session, run, c.Skip(f"skipped: overlap (run {going[0]} is {going[1]})"), now=now)
        return run
    apply(session, run, c.Fire(late_ms), now=now)
    policy.going.setdefault(task.id or 0, (run.id or 0, run.status))
    return run


def _replay_misfires(
    session: Session, task: Task, first: Run, now: datetime, calendars: Calendars, policy: _Policy
) -> list[Run]:
    """Occurrences that fell while no scheduler was up, handled by the task's misfire policy.
    A task without a schedule (now) has only this occurrence to decide on: it must not fail
    the pass, which would keep every occurrence due behind it from firing."""
    assert first.trigger_time is not None
    timing = calendars.timing(task)
    missed = [first.trigger_time]
    while timing is not None and len(missed) < MAX_MISSED_TRACES:
        following = timing_next_fire(timing, missed[-1], calendars.for_schedule)
        if following is None or following > now:
            break
        missed.append(following)
    decision = decide_misfires(
        missed,
        MisfirePolicy(task.misfire),
        now,
        task.misfire_grace_seconds,
        task.misfire_max_replays,
    )
    to_run = set(decision.run)
    coalesced = set(decision.coalesced)
    runs = []
    for at in missed:
        run = first if at == first.trigger_time else _occurrence(session, task, at, now)
        if at in to_run:
            runs.append(_activate(session, task, run, now, policy))
            continue
        reason = "coalesced" if at in coalesced else "missed: scheduler down"
        late = f"{(now - at).total_seconds():.0f}s late; misfire policy {task.misfire}"
        apply(session, run, c.Skip(reason, late), now=now)
        runs.append(run)
    return runs


def _occurrence(session: Session, task: Task, at: datetime, now: datetime) -> Run:
    return create_run(
        session,
        at=now,
        status=RunStatus.IDLE,
        trigger_kind=TriggerKind.SCHEDULE,
        spec=task_spec(task),
        task=task,
        trigger_time=at,
        occurrence_key=occurrence_key(task.id or 0, at),
        detail="occurrence missed while no scheduler was up",
    )


def _tasks_by_id(session: Session, ids: set[int]) -> dict[int, Task]:
    if not ids:
        return {}
    return {t.id or 0: t for t in session.exec(select(Task).where(col(Task.id).in_(ids))).all()}
