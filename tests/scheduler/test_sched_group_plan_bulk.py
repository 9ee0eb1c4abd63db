"""Planning every unplanned group at a start in one pass gives each group the IDLE group run
that planning it alone gives (inactive and unscheduled groups get none; a group's latest
scheduled occurrence is never planned again)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import delete, select

from app.db.engine import session_scope
from app.db.tables import GroupRun, TaskGroup
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import TriggerKind
from app.scheduler.group_planner import plan_group, plan_unplanned_groups

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _idle(engine: Engine) -> dict[int, tuple[datetime | None, str | None]]:
    with session_scope(engine) as session:
        rows = session.exec(select(GroupRun).where(GroupRun.status == GroupRunStatus.IDLE)).all()
        return {r.group_id: (r.trigger_time, r.occurrence_key) for r in rows}


def test_one_pass_plans_as_each_group_alone(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        groups = [
            TaskGroup(name="hourly", schedule={"kind": "cron", "cron": "5 * * * *"}),
            TaskGroup(
                name="paris",
                schedule={"kind": "cron", "cron": "0 9 * * *", "timezone": "Europe/Paris"},
            ),
            TaskGroup(name="frozen", active=False, schedule={"kind": "cron", "cron": "0 1 * * *"}),
            TaskGroup(name="manual"),
            TaskGroup(name="taken", schedule={"kind": "cron", "cron": "5 * * * *"}),
        ]
        session.add_all(groups)
        session.flush()
        taken = groups[-1].id or 0
        # Its 08:05 occurrence already ran: the next one planned is 09:05.
        session.add(
            GroupRun(
                group_id=taken,
                status=GroupRunStatus.SUCCESS,
                trigger_kind=TriggerKind.SCHEDULE,
                trigger_time=NOW + timedelta(minutes=5),
            )
        )
    with session_scope(sqlite_engine) as session:
        rows = list(session.exec(select(TaskGroup)).all())
        assert plan_unplanned_groups(session, rows, now=NOW) == 3
    together = _idle(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        session.exec(delete(GroupRun).where(GroupRun.status == GroupRunStatus.IDLE))
        for group in session.exec(select(TaskGroup)).all():
            plan_group(session, group, now=NOW)
    assert together == _idle(sqlite_engine)
    assert together[taken][0] == NOW + timedelta(hours=1, minutes=5)
    assert len(together) == 3
