"""Group runs settle through the wiring the composition root makes, not through whichever
modules a process happened to import: a process that set up its rows without the scheduler
settles a run's end once `wire_subscribers` ran, and not before."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from support import migrated_sqlite

_SCRIPT = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime

    from sqlmodel import select

    from app.db.engine import make_engine, session_scope
    from app.db.run_commands import apply
    from app.db.runs import create_run, get_run
    from app.domain import run_commands as c
    from app.db.tables import DependencyEdge, GroupRun, Run, Task, TaskGroup
    from app.domain.states import RunStatus, TriggerKind

    NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    engine = make_engine(sys.argv[1])

    def group_run_ending_its_upstream(name):
        with session_scope(engine) as session:
            group = TaskGroup(name=name)
            session.add(group)
            session.flush()
            up = Task(name=name + "-up", command="false", group_id=group.id)
            down = Task(name=name + "-down", command="true", group_id=group.id)
            session.add_all([up, down])
            session.flush()
            session.add(DependencyEdge(group_id=group.id, upstream_id=up.id, downstream_id=down.id))
            group_run = GroupRun(
                group_id=group.id, status="RUNNING", trigger_kind="manual", trigger_time=NOW,
                created_at=NOW,
            )
            session.add(group_run)
            session.flush()
            runs = []
            for task in (up, down):
                run = create_run(
                    session, at=NOW, status=RunStatus.ACTIVE, trigger_kind=TriggerKind.MANUAL,
                    spec={"command": task.command}, task=task,
                )
                run.group_run_id = group_run.id
                runs.append(run.id)
        with session_scope(engine) as session:
            up_run = get_run(session, runs[0])
            apply(session, up_run, c.Dispatch("a1"), now=NOW)
            apply(session, up_run, c.AgentReport("a1", 1, 1, RunStatus.FAILED), now=NOW)
        with session_scope(engine) as session:
            down_run = session.get(Run, runs[1])
            status = session.get(GroupRun, group_run.id).status
            return str(status), str(down_run.status), down_run.reason

    assert "app.scheduler.group_runs" not in sys.modules
    print("unwired", group_run_ending_its_upstream("before"))
    assert "app.scheduler.group_runs" not in sys.modules

    from app.wiring import wire_subscribers  # what the composition root calls

    wire_subscribers(engine)
    print("wired", group_run_ending_its_upstream("after"))
    """
)


def test_a_run_s_end_settles_its_group_run_once_the_unit_of_work_is_wired(
    tmp_path: Path,
) -> None:
    url = migrated_sqlite(tmp_path / "almanac.db")
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # Without the wiring nothing settles (no import side effect does it behind one's back).
    assert lines[0] == "unwired ('RUNNING', 'ACTIVE', None)"
    assert lines[1] == "wired ('FAILED', 'SKIPPED', 'upstream after-up FAILED')"
