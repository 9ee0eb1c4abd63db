"""A late IDLE occurrence of a task that has no schedule (left by an older plan, a restore, or
bulk-loaded rows, with or without an occurrence key) must not stop firing: it once failed
the whole fire pass on every tick (an assertion in the misfire replay), and the tasks due
every second behind it in trigger order stayed IDLE (seen in bench_retention_under_load.py,
whose seeded history has such runs). Now it is handled by its task's misfire policy, alone,
and the other due occurrences fire."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import select

from app.clock import FrozenClock
from app.db.engine import session_scope
from app.db.runs import create_run, task_spec
from app.db.tables import Run, Task
from app.domain.states import RunStatus, TriggerKind
from app.scheduler.firing import fire_due, plan_next
from app.scheduler.planner import plan_tasks

EVERY_SECOND = {"kind": "cron", "cron": "* * * * * ?", "timezone": "UTC"}


def test_a_late_occurrence_of_a_task_without_schedule_does_not_stop_firing(
    engine: Engine, clock: FrozenClock
) -> None:
    now = clock.now()
    with session_scope(engine) as session:
        orphans = [
            Task(name=f"history-{n}", command="true", misfire=m)
            for n, m in enumerate(["run_once", "skip"])
        ]
        pulse = Task(name="pulse", command="true", schedule=EVERY_SECOND)
        session.add_all([*orphans, pulse])
        session.flush()
        for n, task in enumerate(orphans):  # as the seeded history has them: no key
            create_run(
                session,
                at=now - timedelta(hours=2),
                status=RunStatus.IDLE,
                trigger_kind=TriggerKind.SCHEDULE,
                spec=task_spec(task),
                task=task,
                trigger_time=now - timedelta(hours=1, seconds=n),
            )
        plan_tasks(session, [pulse], now=now - timedelta(seconds=1))
        ids = {t.name: t.id or 0 for t in [*orphans, pulse]}

    with session_scope(engine) as session:
        fired = fire_due(session, now=now)
    with session_scope(engine) as session:
        plan_next(session, fired.task_ids, now=now)
        runs = session.exec(select(Run).order_by(Run.id)).all()
        by_task = {
            tid: [(r.status, r.reason) for r in runs if r.task_id == tid] for tid in ids.values()
        }

    assert by_task[ids["pulse"]][0] == ("ACTIVE", None)  # fired on time
    assert by_task[ids["pulse"]][1][0] == "IDLE"  # and its next second planned
    assert by_task[ids["history-0"]] == [("ACTIVE", None)]  # run_once: the one missed runs
    assert by_task[ids["history-1"]] == [("SKIPPED", "missed: scheduler down")]
    assert len(fired.activated) == 2 and len(fired.skipped) == 1
    assert fired.handled == 3
