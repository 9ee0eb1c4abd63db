"""Group schedules and group-to-group waiting, with the injected clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.groups import add_group_dependency
from app.db.tables import DependencyEdge, Freeze, GroupRun, Run, Task, TaskGroup
from app.errors import Conflict
from app.scheduler.group_planner import fire_due_groups, plan_group
from app.scheduler.group_runs import Blockers
from app.scheduler.operator import terminate_group_run

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _group(
    engine: Engine,
    name: str,
    schedule: dict[str, object] | None,
    task_schedules: list[dict[str, object] | None],
) -> int:
    with session_scope(engine) as session:
        group = TaskGroup(name=name, schedule=schedule)
        session.add(group)
        session.flush()
        for index, own in enumerate(task_schedules):
            session.add(
                Task(name=f"{name}-{index}", command="true", group_id=group.id, schedule=own)
            )
        session.flush()
        plan_group(session, group, now=NOW)
        return group.id or 0


def test_a_group_schedule_starts_runs_for_all_its_tasks_with_their_not_before(
    engine: Engine,
) -> None:
    gid = _group(
        engine,
        "berlin",
        {"kind": "times", "times": ["06:00"], "timezone": "Europe/Berlin"},
        [None, {"kind": "times", "times": ["07:30"]}],
    )
    with session_scope(engine) as session:
        [idle] = session.exec(select(GroupRun).where(GroupRun.group_id == gid)).all()
    assert idle.status == "IDLE"
    assert idle.trigger_time == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    assert idle.business_date == date(2026, 3, 3)
    with session_scope(engine) as session:
        assert fire_due_groups(session, now=datetime(2026, 3, 3, 5, 0, 1, tzinfo=UTC)) == [gid]
    with session_scope(engine) as session:
        runs = session.exec(
            select(Run).where(Run.group_run_id == idle.id).order_by(col(Run.task_id))
        ).all()
        started = session.get(GroupRun, idle.id)
    assert started is not None and started.status == "RUNNING"
    assert [r.status for r in runs] == ["ACTIVE", "ACTIVE"]
    # The second task's own 07:30 is a "not before" on that day's group run (Berlin time).
    assert [r.not_before for r in runs] == [None, datetime(2026, 3, 3, 6, 30, tzinfo=UTC)]


def test_an_inactive_group_plans_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        group = TaskGroup(name="off", active=False, schedule={"kind": "cron", "cron": "* * * * *"})
        session.add(group)
        session.flush()
        assert plan_group(session, group, now=NOW) is None


def test_business_dates_match_across_timezones(engine: Engine) -> None:
    """Reports (New York) waits for ingest (Tokyo) of the same business date, although
    the two runs start at instants that fall on different UTC dates."""
    ingest = _group(
        engine, "ingest", {"kind": "times", "times": ["07:00"], "timezone": "Asia/Tokyo"}, [None]
    )
    reports = _group(
        engine,
        "reports",
        {"kind": "times", "times": ["18:00"], "timezone": "America/New_York"},
        [None],
    )
    with session_scope(engine) as session:
        group = session.get(TaskGroup, reports)
        assert group is not None
        add_group_dependency(session, group, ingest)
        session.add_all(
            [
                GroupRun(
                    group_id=ingest,
                    status="SUCCESS",
                    trigger_kind="schedule",
                    trigger_time=datetime(2026, 3, 2, 22, 0, tzinfo=UTC),
                    business_date=date(2026, 3, 3),
                ),
                GroupRun(
                    group_id=reports,
                    status="RUNNING",
                    trigger_kind="schedule",
                    trigger_time=datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
                    business_date=date(2026, 3, 2),
                ),
            ]
        )
        session.flush()
        reports_run = session.exec(
            select(GroupRun).where(GroupRun.group_id == reports, GroupRun.status == "RUNNING")
        ).one()
        task = session.exec(select(Task).where(Task.group_id == reports)).one()
        run = Run(
            task_id=task.id,
            group_run_id=reports_run.id,
            status="ACTIVE",
            trigger_kind="schedule",
            spec={"command": "true"},
        )
        session.add(run)
        session.flush()
        waiting = Blockers(session).of(run)
        assert [b["kind"] for b in waiting] == ["upstream_group"]
        assert waiting[0]["detail"] == "waiting for group ingest of 2026-03-02 (no run yet)"
        session.add(
            GroupRun(
                group_id=ingest,
                status="SUCCESS",
                trigger_kind="schedule",
                trigger_time=datetime(2026, 3, 1, 22, 0, tzinfo=UTC),
                business_date=date(2026, 3, 2),
            )
        )
        session.flush()
        assert Blockers(session).of(run) == []


def test_a_frozen_business_date_skips_the_group_run(engine: Engine) -> None:
    gid = _group(engine, "frozen", {"kind": "times", "times": ["06:00"]}, [None])
    with session_scope(engine) as session:
        session.add(Freeze(group_id=gid, day=date(2026, 3, 3), reason="migration"))
    with session_scope(engine) as session:
        assert fire_due_groups(session, now=datetime(2026, 3, 3, 6, 0, 1, tzinfo=UTC)) == [gid]
    with session_scope(engine) as session:
        [group_run] = session.exec(select(GroupRun).where(GroupRun.group_id == gid)).all()
        runs = session.exec(select(Run).where(Run.group_run_id == group_run.id)).all()
    assert group_run.status == "SKIPPED" and runs == []


def test_a_run_whose_upstream_failed_never_starts_even_before_it_is_skipped(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        group = TaskGroup(name="g")
        session.add(group)
        session.flush()
        first = Task(name="first", command="false", group_id=group.id)
        second = Task(name="second", command="true", group_id=group.id)
        session.add_all([first, second])
        session.flush()
        session.add(
            DependencyEdge(
                group_id=group.id or 0, upstream_id=first.id or 0, downstream_id=second.id or 0
            )
        )
        group_run = GroupRun(group_id=group.id or 0, status="RUNNING", trigger_kind="manual")
        session.add(group_run)
        session.flush()
        runs = [
            Run(
                task_id=t.id,
                group_run_id=group_run.id,
                status=status,
                trigger_kind="manual",
                spec={"command": t.command},
            )
            for t, status in ((first, "FAILED"), (second, "ACTIVE"))
        ]
        session.add_all(runs)
        session.flush()
        blockers = Blockers(session).of(runs[1])
    assert blockers == [{"kind": "upstream", "detail": "will be skipped: upstream first FAILED"}]


def _group_runs(session: Session, name: str, *statuses: str) -> tuple[TaskGroup, list[GroupRun]]:
    """A group with one group run in each status (ended ones finished at NOW)."""
    group = TaskGroup(name=name)
    session.add(group)
    session.flush()
    ended = {"SUCCESS", "FAILED", "TERMINATED", "SKIPPED", "MISSED"}
    rows = [
        GroupRun(
            group_id=group.id or 0,
            status=status,
            trigger_kind="schedule" if status == "IDLE" else "manual",
            trigger_time=NOW,
            created_at=NOW,
            finished_at=NOW if status in ended else None,
        )
        for status in statuses
    ]
    session.add_all(rows)
    session.flush()
    return group, rows


def test_an_ended_group_run_cannot_be_terminated_and_stays_as_it_was(engine: Engine) -> None:
    with session_scope(engine) as session:
        _, (ended, planned) = _group_runs(session, "done", "SUCCESS", "IDLE")
        ended_id, planned_id = ended.id or 0, planned.id or 0
    with session_scope(engine) as session, pytest.raises(Conflict, match="it has ended"):
        terminate_group_run(session, ended_id, who="op", now=NOW)
    with session_scope(engine) as session:
        assert terminate_group_run(session, planned_id, who="op", now=NOW) == []
    with session_scope(engine) as session:
        kept, stopped = session.get(GroupRun, ended_id), session.get(GroupRun, planned_id)
    assert kept is not None and (kept.status, kept.finished_at) == ("SUCCESS", NOW)
    assert stopped is not None and (stopped.status, stopped.finished_at) == ("TERMINATED", NOW)


def test_terminating_a_group_run_ends_what_no_agent_runs_and_names_what_to_kill(
    engine: Engine,
) -> None:
    """A run just dispatched (TRIGGER) ends here and its agent is told too, so its start
    cannot come back; a running one is left to its agent; one waiting for approval is
    rejected."""
    with session_scope(engine) as session:
        group, (group_run,) = _group_runs(session, "stop-all", "RUNNING")
        made = {}
        for status, agent in (
            ("TRIGGER", "a1"),
            ("RUNNING", "a1"),
            ("PENDING_APPROVAL", None),
            ("ACTIVE", None),
        ):
            task = Task(name=f"stop-{status}", command="true", group_id=group.id)
            session.add(task)
            session.flush()
            run = Run(
                task_id=task.id,
                status=status,
                trigger_kind="manual",
                spec={"command": "true"},
                group_run_id=group_run.id,
                agent=agent,
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(run)
            session.flush()
            made[status] = run.id or 0
        group_run_id = group_run.id or 0
    with session_scope(engine) as session:
        to_kill = terminate_group_run(session, group_run_id, who="op", now=NOW)
    assert sorted(to_kill) == sorted([("a1", made["TRIGGER"], 1), ("a1", made["RUNNING"], 1)])
    with session_scope(engine) as session:
        after = {s: session.get(Run, rid) for s, rid in made.items()}
        stopped = session.get(GroupRun, group_run_id)
    assert {s: r.status for s, r in after.items() if r} == {
        "TRIGGER": "TERMINATED",
        "RUNNING": "RUNNING",
        "PENDING_APPROVAL": "REJECTED",
        "ACTIVE": "TERMINATED",
    }
    assert stopped is not None and stopped.status == "TERMINATED"
    assert stopped.finished_at is None  # until the running one's agent reports its end


def test_a_planned_group_run_records_the_group_version_it_starts_with(engine: Engine) -> None:
    gid = _group(engine, "edited", {"kind": "times", "times": ["06:00"]}, [None])
    with session_scope(engine) as session:
        group = session.get(TaskGroup, gid)
        assert group is not None
        group.description = "edited after the run was planned"
    with session_scope(engine) as session:
        group = session.get(TaskGroup, gid)
        assert group is not None and group.version >= 2  # created, then edited
        edited_version = group.version
        [idle] = session.exec(select(GroupRun).where(GroupRun.group_id == gid)).all()
        assert idle.group_version != edited_version  # planned before the edit
        assert idle.trigger_time is not None
        fire_at = idle.trigger_time
    with session_scope(engine) as session:
        assert fire_due_groups(session, now=fire_at) == [gid]
    with session_scope(engine) as session:
        started = session.get(GroupRun, idle.id)
        assert started is not None and started.status == "RUNNING"
        assert started.group_version == edited_version
