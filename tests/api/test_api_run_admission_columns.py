"""Every way a run is made writes what it asks of the gates into the run's plain columns
(`pool`, `pool_slots`, `locks`, `cores`, `gpus`), the ones a dispatch pass reads: planned,
forced, a group run's members, a backfill's, adhoc; a retry and a re-run keep them (same row),
and the gates count them again once the run is back on an agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from run_moves import move
from sqlalchemy import Engine
from sqlmodel import col, select

from app.db.engine import session_scope
from app.db.runs import get_run
from app.db.tables import Agent, Run
from app.domain.admission import admission_columns
from app.domain.states import RunStatus
from app.scheduler.admission import load_gates
from app.scheduler.backfills import backfill_pass
from app.scheduler.lifecycle import schedule_retry

GIB = 1024**3
DB = {"name": "db-main", "mode": "exclusive"}
S3 = {"name": "s3", "mode": "shared"}
DAILY = {"kind": "times", "times": ["09:00"], "days": "mon-sun"}
COLUMNS = ("pool", "pool_slots", "locks", "cores", "gpus")


def _engine(api: TestClient) -> Engine:
    engine: Engine = api.app.state.context.engine  # type: ignore[attr-defined]
    return engine


def _columns(api: TestClient, **where: Any) -> list[dict[str, Any]]:
    """The admission columns of the runs matching `where`, by id; each also checked to be
    what its own spec asks."""
    with session_scope(_engine(api)) as session:
        stmt = select(Run).order_by(col(Run.id))
        for name, value in where.items():
            stmt = stmt.where(getattr(Run, name) == value)
        found = []
        for run in session.exec(stmt).all():
            stored = {name: getattr(run, name) for name in COLUMNS}
            assert stored == admission_columns(run.spec), (run.id, run.spec)
            found.append(stored)
        return found


def _asks(pool: str | None, slots: int, locks: str | None, cores: float, gpus: int) -> Any:
    return {"pool": pool, "pool_slots": slots, "locks": locks, "cores": cores, "gpus": gpus}


def _setup(api: TestClient) -> None:
    for name, slots in (("etl", 4), ("gpu", 2)):
        made = api.post("/api/v1/pools", json={"name": name, "slots": slots})
        assert made.status_code == 201, made.text


def _task(api: TestClient, **fields: Any) -> int:
    answer = api.post("/api/v1/tasks", json={"command": "true", **fields})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["tid"])


def test_a_planned_and_a_forced_run_hold_the_tasks_asks(api: TestClient) -> None:
    _setup(api)
    tid = _task(
        api,
        name="train",
        schedule=DAILY,
        pool="gpu",
        pool_slots=2,
        locks=[S3, DB],
        cpus=2.5,
        gpu_count=2,
    )
    asks = _asks("gpu", 2, "xdb-main\nss3", 2.5, 2)  # by name, as merged
    planned = _columns(api, task_id=tid, status=RunStatus.IDLE)
    assert planned == [asks]  # planned as a plain row (app/scheduler/planner.py)
    forced = api.post(f"/api/v1/tasks/{tid}/run")
    assert forced.status_code == 201, forced.text
    assert _columns(api, id=forced.json()["id"]) == [asks]
    plain = _task(api, name="plain")
    run = api.post(f"/api/v1/tasks/{plain}/run").json()
    assert _columns(api, id=run["id"]) == [_asks(None, 1, None, 0.0, 0)]


def test_a_group_runs_members_hold_the_groups_pool_and_locks_with_their_own(
    api: TestClient,
) -> None:
    _setup(api)
    group = api.post(
        "/api/v1/groups", json={"name": "g", "pool": "etl", "pool_slots": 3, "locks": [DB]}
    ).json()
    own = _task(api, name="own", group=group["gid"], locks=[S3], cpus=1)
    bare = _task(api, name="bare", group=group["gid"], pool="gpu")
    made = api.post(f"/api/v1/groups/{group['gid']}/run")
    assert made.status_code == 201, made.text
    gr = made.json()["id"]
    assert _columns(api, group_run_id=gr, task_id=own) == [_asks("etl", 3, "xdb-main\nss3", 1.0, 0)]
    assert _columns(api, group_run_id=gr, task_id=bare) == [_asks("gpu", 1, "xdb-main", 0.0, 0)]


def test_a_backfills_runs_hold_the_tasks_asks(api: TestClient) -> None:
    _setup(api)
    tid = _task(api, name="load", schedule=DAILY, pool="etl", locks=[DB], cpus=4)
    start = datetime.now(UTC).date() - timedelta(days=3)
    body = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    made = api.post(f"/api/v1/tasks/{tid}/backfill", json=body)
    assert made.status_code == 200, made.text
    with session_scope(_engine(api)) as session:
        backfill_pass(session, now=datetime.now(UTC))
    found = _columns(api, backfill_id=made.json()["id"])
    assert found and found == [_asks("etl", 1, "xdb-main", 4.0, 0)] * len(found)


def test_an_adhoc_run_holds_its_asks(api: TestClient) -> None:
    _setup(api)
    resources = {
        "cpus": 16,
        "memory_total": 64 * GIB,
        "docker": False,
        "gpus": [{"index": i, "name": "A100", "memory_total": 80 * GIB} for i in range(4)],
    }
    at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with session_scope(_engine(api)) as session:
        session.add(Agent(name="gpu-a", status="online", resources=resources, created_at=at))
    body = {
        "command": "true",
        "agents": ["gpu-a"],
        "pool": "gpu",
        "pool_slots": 2,
        "locks": [DB],
        "cpus": 3,
        "gpus": [0, 1, 2],
    }
    made = api.post("/api/v1/adhoc", json=body)
    assert made.status_code == 201, made.text
    assert _columns(api, batch_id=made.json()["batch_id"]) == [_asks("gpu", 2, "xdb-main", 3.0, 3)]


def test_a_retried_and_a_rerun_run_keep_their_asks_and_hold_them_again(
    api: TestClient,
) -> None:
    _setup(api)
    tid = _task(api, name="t", pool="etl", pool_slots=2, locks=[DB], retry_attempts=1)
    run_id = api.post(f"/api/v1/tasks/{tid}/run").json()["id"]
    asks = [_asks("etl", 2, "xdb-main", 0.0, 0)]
    now = datetime.now(UTC)
    engine = _engine(api)

    def held() -> tuple[dict[int, int], list[int]]:
        with session_scope(engine) as session:
            gates = load_gates(session)
            lock = gates.locks.get(("default", "db-main"))
            holders = gates.pools[("default", "etl")].holders
            return dict(holders), list(lock.exclusive) if lock is not None else []

    with session_scope(engine) as session:
        run = get_run(session, run_id)
        move(session, run, RunStatus.RUNNING, at=now)
    assert held() == ({run_id: 2}, [run_id])
    with session_scope(engine) as session:
        run = get_run(session, run_id)
        move(session, run, RunStatus.FAILED, at=now, exit_code=1)
        assert schedule_retry(session, run, now=now)  # the next attempt, the same row
        assert (run.status, run.attempt) == (RunStatus.ACTIVE, 2)
    assert _columns(api, id=run_id) == asks
    with session_scope(engine) as session:
        run = get_run(session, run_id)
        move(session, run, RunStatus.RUNNING, at=now)
    assert held() == ({run_id: 2}, [run_id])
    with session_scope(engine) as session:
        move(session, get_run(session, run_id), RunStatus.FAILED, at=now, exit_code=1)
    assert held() == ({}, [])
    rerun = api.post(f"/api/v1/runs/{run_id}/rerun")
    assert rerun.status_code == 200, rerun.text
    assert _columns(api, id=run_id) == asks
    with session_scope(engine) as session:
        move(session, get_run(session, run_id), RunStatus.RUNNING, at=now)
    assert held() == ({run_id: 2}, [run_id])
