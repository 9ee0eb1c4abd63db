"""The group views' services on a real SQLite database: the grid and the history paged by
keyset, the Gantt's spans and critical path, the heat map with its ledger reasons, and the
instance scope of each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from group_history import T0, TaskRun, at, nightly_success, seed_group, seed_group_run
from sqlalchemy import Engine
from support import migrated_sqlite

from app.db.engine import make_engine, session_scope
from app.db.tables import Freeze, User
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import RunStatus
from app.errors import InvalidInput, NotFound
from app.services import group_gantt, group_grid, heat_maps
from app.services.actor import Actor


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(migrated_sqlite(tmp_path / "almanac.db"))
    yield engine
    engine.dispose()


def _viewer(*instances: str) -> Actor:
    return Actor(User(id=1, username="v", role="viewer", instances=list(instances)))


def test_grid_pages_group_runs_newest_first_by_keyset(engine: Engine) -> None:
    seeded = seed_group(engine)
    ids = [
        seed_group_run(
            engine, seeded, day=date(2026, 3, 1) + timedelta(days=i), runs=nightly_success()
        )[0]
        for i in range(5)
    ]
    with session_scope(engine) as s:
        first = group_grid.group_grid(s, actor=_viewer("*"), gid=seeded.gid, limit=2)
        assert [g.id for g in first.group_runs] == [ids[4], ids[3]]
        assert first.older == ids[3] and first.newer is None
        assert [name for _, name in first.tasks] == [
            "nightly-extract",
            "nightly-transform",
            "nightly-check",
            "nightly-load",
        ]
        cell = first.cells[(ids[4], seeded.tids["load"])]
        assert cell.status == "SUCCESS"
        second = group_grid.group_grid(
            s, actor=_viewer("*"), gid=seeded.gid, before=first.older, limit=2
        )
        assert [g.id for g in second.group_runs] == [ids[2], ids[1]]
        assert second.newer == ids[2]
        last = group_grid.group_grid(s, actor=_viewer("*"), gid=seeded.gid, before=ids[1], limit=2)
        assert [g.id for g in last.group_runs] == [ids[0]] and last.older is None
        back = group_grid.group_grid(s, actor=_viewer("*"), gid=seeded.gid, after=ids[2], limit=2)
        assert [g.id for g in back.group_runs] == [ids[4], ids[3]] and back.newer is None


def test_grid_leaves_planned_group_runs_out_and_refuses_both_cursors(engine: Engine) -> None:
    seeded = seed_group(engine)
    seed_group_run(engine, seeded, day=date(2026, 3, 9), status=GroupRunStatus.IDLE)
    with session_scope(engine) as s:
        assert group_grid.group_grid(s, actor=_viewer("*"), gid=seeded.gid).group_runs == []
        with pytest.raises(InvalidInput, match="after"):
            group_grid.group_grid(s, actor=_viewer("*"), gid=seeded.gid, before=5, after=2)


def test_history_counts_task_runs_per_status(engine: Engine) -> None:
    seeded = seed_group(engine)
    runs = {
        **nightly_success(),
        "load": TaskRun(status=RunStatus.FAILED, dispatched=10, finished=11),
    }
    gr, _ = seed_group_run(
        engine, seeded, day=date(2026, 3, 2), status=GroupRunStatus.FAILED, runs=runs
    )
    with session_scope(engine) as s:
        counts = group_grid.task_run_counts(s, actor=_viewer("*"), group_run_ids=[gr])
    assert counts == {gr: {"SUCCESS": 3, "FAILED": 1}}


def test_gantt_spans_and_critical_path(engine: Engine) -> None:
    seeded = seed_group(engine)
    gr, run_ids = seed_group_run(
        engine, seeded, day=date(2026, 3, 2), trigger=T0, runs=nightly_success()
    )
    with session_scope(engine) as s:
        gantt = group_gantt.group_run_gantt(s, actor=_viewer("*"), group_run_id=gr, now=at(60))
    t = seeded.tids
    assert gantt.path == [t["extract"], t["transform"], t["load"]]
    rows = {r.tid: r for r in gantt.rows}
    assert [r.name for r in gantt.rows][0] == "nightly-extract"
    assert rows[t["load"]].critical and not rows[t["check"]].critical
    assert [(sp.kind, sp.start, sp.end) for sp in rows[t["check"]].spans] == [
        ("queued", at(0), at(2)),
        ("waiting", at(2), at(3)),
        ("running", at(3), at(4)),
    ]
    assert [(sp.kind, sp.start, sp.end) for sp in rows[t["load"]].spans] == [
        ("queued", at(0), at(10)),
        ("running", at(10), at(12)),
    ]
    assert (gantt.start, gantt.end) == (at(0), at(12))
    assert rows[t["load"]].run == run_ids["load"]


def test_gantt_of_a_run_still_going_ends_now(engine: Engine) -> None:
    seeded = seed_group(engine)
    runs = {
        "extract": TaskRun(dispatched=0, finished=2),
        "transform": TaskRun(status=RunStatus.RUNNING, dispatched=2, started=2),
        "check": TaskRun(status=RunStatus.ACTIVE),
        "load": TaskRun(status=RunStatus.ACTIVE),
    }
    gr, _ = seed_group_run(
        engine, seeded, day=date(2026, 3, 2), trigger=T0, status=GroupRunStatus.RUNNING, runs=runs
    )
    with session_scope(engine) as s:
        gantt = group_gantt.group_run_gantt(s, actor=_viewer("*"), group_run_id=gr, now=at(7))
    rows = {r.tid: r for r in gantt.rows}
    t = seeded.tids
    assert gantt.path == [t["extract"], t["transform"]]
    assert [sp.kind for sp in rows[t["check"]].spans] == ["queued", "waiting"]  # extract done
    assert [sp.kind for sp in rows[t["load"]].spans] == ["queued"]
    assert gantt.end == at(7)


def test_heat_map_of_a_task_shows_outcomes_and_ledger_reasons(engine: Engine) -> None:
    seeded = seed_group(engine)
    seed_group_run(engine, seeded, day=date(2026, 3, 2), runs=nightly_success())
    seed_group_run(
        engine,
        seeded,
        day=date(2026, 3, 3),
        runs={"load": TaskRun(status=RunStatus.FAILED, dispatched=1, finished=2)},
    )
    seed_group_run(
        engine,
        seeded,
        day=date(2026, 3, 4),
        runs={"load": TaskRun(status=RunStatus.SKIPPED, reason="skipped: calendar (Holiday)")},
    )
    with session_scope(engine) as s:
        s.add(Freeze(group_id=seeded.gid, day=date(2026, 3, 5), reason="quarter close"))
    with session_scope(engine) as s:
        found = heat_maps.task_heat_map(
            s, actor=_viewer("*"), tid=seeded.tids["load"], now=at(0), end=date(2026, 3, 6)
        )
    days = {d.day: d for week in found.weeks for d in week}
    assert days[date(2026, 3, 2)].outcome == "success"
    assert days[date(2026, 3, 3)].outcome == "failed"
    assert days[date(2026, 3, 4)].outcome == "skipped"
    assert days[date(2026, 3, 4)].reason == "skipped: calendar (Holiday)"
    assert days[date(2026, 3, 5)].reason == "frozen: quarter close"
    assert found.end == date(2026, 3, 6) and found.previous_end < found.weeks[0][0].day


def test_heat_map_of_a_group_reads_its_group_runs(engine: Engine) -> None:
    seeded = seed_group(engine)
    seed_group_run(engine, seeded, day=date(2026, 3, 2))
    seed_group_run(engine, seeded, day=date(2026, 3, 3), status=GroupRunStatus.MISSED)
    with session_scope(engine) as s:
        found = heat_maps.group_heat_map(
            s, actor=_viewer("*"), gid=seeded.gid, now=at(0), end=date(2026, 3, 6)
        )
    days = {d.day: d for week in found.weeks for d in week}
    assert days[date(2026, 3, 2)].outcome == "success"
    assert days[date(2026, 3, 3)].outcome == "skipped"
    assert days[date(2026, 3, 3)].reason.startswith("missed")


def test_every_view_hides_another_instance(engine: Engine) -> None:
    a = seed_group(engine, "alpha", instance="A")
    b = seed_group(engine, "beta", instance="B")
    seed_group_run(engine, a, day=date(2026, 3, 2), instance="A", runs=nightly_success())
    gr_b, _ = seed_group_run(engine, b, day=date(2026, 3, 2), instance="B", runs=nightly_success())
    viewer = _viewer("A")
    with session_scope(engine) as s:
        assert group_grid.group_grid(s, actor=viewer, gid=a.gid).group_runs
        with pytest.raises(NotFound):
            group_grid.group_grid(s, actor=viewer, gid=b.gid)
        with pytest.raises(NotFound):
            group_grid.group_runs_page(s, actor=viewer, gid=b.gid)
        with pytest.raises(NotFound):
            group_gantt.group_run_gantt(s, actor=viewer, group_run_id=gr_b, now=at(0))
        with pytest.raises(NotFound):
            heat_maps.group_heat_map(s, actor=viewer, gid=b.gid, now=at(0))
        with pytest.raises(NotFound):
            heat_maps.task_heat_map(s, actor=viewer, tid=b.tids["load"], now=at(0))
        assert group_grid.task_run_counts(s, actor=viewer, group_run_ids=[gr_b]) == {}
