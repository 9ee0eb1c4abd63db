"""Run rows and their timeline. Every status change goes through `run_commands.apply`,
which records its event here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import Session, col, select

from app.db import run_event_rows
from app.db.run_admission import settle_admission, settle_admission_values
from app.db.run_changes import transitioned
from app.db.tables import Run, RunEvent
from app.db.task_rows import TaskFields
from app.db.unit_of_work import record
from app.domain import run_spec
from app.domain.admission import admission_columns
from app.domain.events import RunTransitioned
from app.domain.params import defaults_of
from app.domain.run_lifecycle import check_initial
from app.domain.states import RunStatus, TriggerKind, is_terminal
from app.errors import NotFound

# Group runs with a run that just ended: their DAG is settled before commit
# (`group_runs.settle_ended`, a before-commit step wired by app/wiring.py).
ENDED_GROUP_RUNS = "ended_group_runs"
# Backfills whose runs ended in this transaction: the next dates start before it commits.
ENDED_BACKFILLS = "ended_backfills"


def task_spec(task: TaskFields) -> dict[str, Any]:
    """What an agent needs to run the task, frozen at the moment the run is created. The
    environment travels sealed (the task's token is copied, nothing is decrypted)."""
    env: dict[str, Any] = (
        {"env_sealed": task.env_sealed} if task.env_sealed else {"env": dict(task.env)}
    )
    return {
        "command": task.command,
        "image": task.image,
        **env,
        "workdir": task.workdir,
        "run_as_user": task.run_as_user,
        "cpus": task.cpus,
        "memory": task.memory,
        "gpus": list(task.gpus),
        **({"gpu_count": task.gpu_count} if task.gpu_count else {}),
        **({"numa_node": task.numa_node} if task.numa_node is not None else {}),
        "mounts": list(task.mounts),
        "max_run_seconds": task.max_run_seconds,
        "target": task.target,
        "labels": dict(task.labels),
        "task_name": task.name,
        "concurrency": task.concurrency,
    }


def create_run(session: Session, *, detail: str = "", **fields: Any) -> Run:
    """A new run (the fields of `new_run`) stored at once, with its first event (`detail`)."""
    run = new_run(**fields)
    add_runs(session, [(run, detail)])
    return run


def new_run(**fields: Any) -> Run:
    """A run row not yet in the session (the fields of `run_values`): `add_runs` stores it
    with its first event. It starts in one of the lifecycle's initial statuses
    (`run_lifecycle.INITIAL`).

    Its business date defaults to the trigger's local date in the task's schedule timezone
    (UTC without one); its params to the task's declared defaults. Both also go into the
    spec, so an approval is of them too and the approver sees them."""
    return Run(**run_values(**fields))


def run_values(
    *,
    at: datetime,
    status: RunStatus,
    trigger_kind: TriggerKind,
    spec: dict[str, Any],
    task: TaskFields | None = None,
    trigger_time: datetime | None = None,
    occurrence_key: str | None = None,
    created_by: str | None = None,
    instance: str = "default",
    batch_id: str | None = None,
    reason: str | None = None,
    business_date: date | None = None,
    params: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """The column values of a new run (what `new_run` makes an ORM row of, and what
    `insert_runs` stores without one)."""
    check_initial(status)
    day = business_date or local_date(trigger_time or at, task.schedule if task else None)
    values = dict(params) if params is not None else defaults_of(task.params if task else [])
    spec = {**spec, "business_date": day.isoformat(), "params": values}
    return {
        "business_date": day,
        "params": values,
        "task_id": task.id if task else None,
        "task_version": task.version or None if task else None,
        "instance": task.instance if task else instance,
        "status": status,
        "trigger_kind": trigger_kind,
        "trigger_time": trigger_time or at,
        "occurrence_key": occurrence_key,
        "spec": spec,
        **admission_columns(spec),  # again once the task's admission fields are in the spec
        # What an approval will be of: the spec as submitted.
        "spec_digest": run_spec.digest(spec) if status is RunStatus.PENDING_APPROVAL else None,
        "created_by": created_by,
        "batch_id": batch_id,
        "reason": reason,
        "finished_at": at if is_terminal(status) else None,
        "created_at": at,
        "updated_at": at,
    }


def local_date(at: datetime, schedule: Mapping[str, Any] | None) -> date:
    """`at`'s date in the schedule's timezone (UTC without a schedule or a timezone)."""
    return at.astimezone(ZoneInfo(str((schedule or {}).get("timezone") or "UTC"))).date()


def add_runs(session: Session, runs: Sequence[tuple[Run, str]]) -> None:
    """Store new runs, each with its first event (`detail`): one flush for all of them."""
    settle_admission(session, [run for run, _ in runs])
    session.add_all([run for run, _ in runs])
    session.flush()
    for run, detail in runs:
        assert run.created_at is not None
        _add_event(session, run, run.status, run.created_at, detail)


def settle_rows(
    session: Session,
    rows: Iterable[dict[str, Any]],
    admitted: dict[int | None, tuple[dict[str, Any], int] | None] | None = None,
) -> None:
    """Complete new runs given as column values (`run_values`), in place: their admission
    fields (`admitted`: each task's, where the caller knows them) and the defaults of a new
    row, as `insert_runs` stores them."""
    known = {} if admitted is None else admitted
    for values in rows:
        settle_admission_values(session, values, known)
        for name, default in NEW_ROW_DEFAULTS.items():
            values.setdefault(name, default)


def insert_runs(
    session: Session, runs: Sequence[tuple[dict[str, Any], str]], *, settled: bool = False
) -> list[int]:
    """`add_runs` for runs given as column values (`run_values`; `settled`: already through
    `settle_rows`), each with an occurrence key: multi-row INSERTs and no ORM object
    (planning re-plans thousands at once); returns their ids in order."""
    if not runs:
        return []
    if not settled:
        settle_rows(session, [values for values, _ in runs])
    rows = []
    for values, _ in runs:
        assert values["occurrence_key"], "insert_runs maps the new ids back by occurrence key"
        rows.append({**NEW_ROW_DEFAULTS, **values})
    table = Run.__table__  # type: ignore[attr-defined]
    stmt = insert(table).returning(table.c.id, table.c.occurrence_key)
    keyed = {key: int(run_id) for run_id, key in session.connection().execute(stmt, rows)}
    ids = [keyed[values["occurrence_key"]] for values, _ in runs]
    for run_id, (values, detail) in zip(ids, runs, strict=True):
        status, at = RunStatus(values["status"]).value, values["created_at"]
        event = {"run_id": run_id, "attempt": 1, "status": status, "at": at, "detail": detail}
        run_event_rows.queue(session, event)
        record(session, RunTransitioned(run_id, 1, status, at))  # no end: no alert snapshot
    return ids


# What a new run row holds besides `run_values` (every row of one INSERT names the same keys).
NEW_ROW_DEFAULTS: dict[str, Any] = {
    "attempt": 1,
    "agent_seq": 0,
    "dispatches": 0,
    "ignore_upstreams": False,
    "results": {},
    "priority": 0,
    "queue_rank": 0,
}


def _add_event(session: Session, run: Run, status: RunStatus, at: datetime, detail: str) -> None:
    assert run.id is not None
    row = {
        "run_id": run.id,
        "attempt": run.attempt,
        "status": status.value,
        "at": at,
        "detail": detail,
    }
    run_event_rows.queue(session, row)  # inserted before the session reads or commits
    record(session, transitioned(run, row))  # heard after commit (app/db/unit_of_work.py)


def get_run(session: Session, run_id: int, *, lock: bool = False) -> Run:
    """The run, locked for update when asked (already-loaded rows come from the session)."""
    run = session.get(Run, run_id, with_for_update=lock)
    if run is None:
        raise NotFound("run", run_id)
    return run


def run_events(session: Session, run_id: int) -> Sequence[RunEvent]:
    stmt = select(RunEvent).where(RunEvent.run_id == run_id).order_by(col(RunEvent.id))
    return session.exec(stmt).all()


def duration_seconds(run: Run) -> float | None:
    if run.started_at is None:
        return None
    if run.finished_at is None:
        return None
    return (run.finished_at - run.started_at).total_seconds()
