"""A group with a holiday calendar backfilled over a month, the loops stepped by hand with a
fake agent and a frozen clock: exactly the open dates run, oldest first, never more than
the cap at once; pause, resume and cancel; modes over what already ran."""

from __future__ import annotations

from datetime import date, timedelta

from backfill.backfill_world import World, actor
from sqlmodel import select

from app.db.engine import session_scope
from app.db.tables import GroupDependency
from app.services import backfill_controls
from app.services.backfill_controls import Action

APRIL_HOLIDAYS = {date(2026, 4, 3): "Good Friday", date(2026, 4, 6): "Easter Monday"}


def open_april_days() -> list[date]:
    """Independently: April 2026's weekdays but its two German holidays."""
    days = [date(2026, 4, 1) + timedelta(days=n) for n in range(30)]
    return [d for d in days if d.weekday() < 5 and d not in APRIL_HOLIDAYS]


def control(world: World, backfill_id: int, action: Action, role: str = "operator") -> str:
    public = backfill_controls.control(
        world.engine,
        actor=actor(role),
        now=world.clock.now(),
        backfill_id=backfill_id,
        action=action,
    )
    return public.status


async def test_a_month_of_a_group_runs_its_open_days_oldest_first_within_the_cap(
    world: World,
) -> None:
    gid = world.group()
    agent = await world.agent()
    preview = world.backfill(group_id=gid, start="2026-04-01", end="2026-04-30", dry_run=True)
    assert preview.id is None and preview.status == "dry_run"
    skipped = {d.date: d.reason for d in preview.dates if d.action == "skip"}
    for day, name in APRIL_HOLIDAYS.items():
        assert skipped[day] == f"holiday: {name}"
    assert [d.date for d in preview.dates if d.action == "run"] == open_april_days()
    assert world.group_runs(gid) == []  # a dry run stores nothing

    made = world.backfill(group_id=gid, start="2026-04-01", end="2026-04-30", max_concurrent=3)
    assert made.id is not None and made.status == "running" and made.run_count == 20
    most = 0
    for _ in range(200):
        await world.step(agent)
        unfinished = [g for g in world.group_runs(gid) if g.finished_at is None]
        most = max(most, len(unfinished))
        assert len(unfinished) <= 3
        if world.status(made.id) == "done":
            break
    assert most == 3
    group_runs = world.group_runs(gid)
    assert [g.business_date for g in group_runs] == open_april_days()  # oldest first, once each
    assert {(g.status, g.trigger_kind) for g in group_runs} == {("SUCCESS", "backfill")}
    runs = world.runs(backfill_id=made.id)
    assert len(runs) == 20 * 3
    assert all(r.trigger_kind == "backfill" and r.status == "SUCCESS" for r in runs)
    by_group_run = {g.id: g.business_date for g in group_runs}
    assert all(r.business_date == by_group_run[r.group_run_id] for r in runs)
    progress = world.read(made.id)
    assert progress.progress == {"done": 20} and progress.statuses == {"SUCCESS": 20}


async def test_newest_first_and_a_task_backfill_makes_task_runs_with_its_params(
    world: World,
) -> None:
    region = {"name": "region", "type": "string", "default": "eu"}
    tid = world.task(params=[region, {"name": "size", "type": "integer", "default": 3}])
    agent = await world.agent()
    made = world.backfill(
        task_id=tid,
        start="2026-04-27",
        end="2026-04-30",
        order="newest",
        max_concurrent=1,
        params={"region": "us"},
    )
    assert made.id is not None
    for _ in range(20):
        await world.step(agent)
    runs = world.runs(backfill_id=made.id)
    assert [r.business_date for r in runs] == [date(2026, 4, d) for d in (30, 29, 28, 27)]
    assert {r.spec["business_date"] for r in runs} == {f"2026-04-{d}" for d in (27, 28, 29, 30)}
    assert all(r.params == {"region": "us", "size": 3} for r in runs)
    assert world.status(made.id) == "done"


async def test_pause_stops_new_dates_resume_goes_on_cancel_ends_the_rest(world: World) -> None:
    tid = world.task()
    agent = await world.agent()
    made = world.backfill(task_id=tid, start="2026-04-01", end="2026-04-30", max_concurrent=2)
    assert made.id is not None
    await world.step(agent)
    # Two ended, and their ends started the next two at once (queued for dispatch).
    assert len(world.runs(backfill_id=made.id)) == 4
    assert len(world.runs(backfill_id=made.id, status="ACTIVE")) == 2
    assert control(world, made.id, "pause") == "paused"
    for _ in range(3):
        await world.step(agent)
    assert len(world.runs(backfill_id=made.id)) == 4  # paused: nothing new starts
    assert len(world.runs(backfill_id=made.id, status="SUCCESS")) == 4
    assert control(world, made.id, "resume") == "running"
    world.scheduler.backfill_once(world.clock.now())  # two more, queued (not dispatched)
    queued = world.runs(backfill_id=made.id, status="ACTIVE")
    assert len(queued) == 2
    assert control(world, made.id, "cancel") == "cancelled"
    for run in queued:
        (ended,) = world.runs(id=run.id)
        assert ended.status == "TERMINATED"
    for _ in range(3):
        await world.step(agent)
    assert len(world.runs(backfill_id=made.id)) == 6  # no date starts after a cancel
    progress = world.read(made.id)
    assert progress.progress == {"done": 6, "cancelled": 14}


async def test_modes_missing_failed_all_look_at_what_already_ran(world: World) -> None:
    tid = world.task()
    agent = await world.agent()
    first = world.backfill(task_id=tid, start="2026-04-27", end="2026-04-30", max_concurrent=4)
    assert first.id is not None
    failing = {date(2026, 4, 28): 3}
    for _ in range(5):
        await world.step(agent, exit_code=failing)
    assert world.status(first.id) == "done"

    def plan(mode: str) -> dict[int, str]:
        preview = world.backfill(
            task_id=tid, start="2026-04-27", end="2026-04-30", mode=mode, dry_run=True
        )
        return {d.date.day: d.action for d in preview.dates}

    assert plan("missing") == {27: "skip", 28: "run", 29: "skip", 30: "skip"}
    assert plan("failed") == {27: "skip", 28: "run", 29: "skip", 30: "skip"}
    assert plan("all") == {27: "run", 28: "run", 29: "run", 30: "run"}
    again = world.backfill(task_id=tid, start="2026-04-27", end="2026-04-30", mode="failed")
    assert again.id is not None
    for _ in range(3):
        await world.step(agent)
    (rerun,) = world.runs(backfill_id=again.id)
    assert (rerun.business_date, rerun.status) == (date(2026, 4, 28), "SUCCESS")
    assert plan("failed") == {27: "skip", 28: "skip", 29: "skip", 30: "skip"}


async def test_a_user_backfill_waits_for_approval(world: World) -> None:
    tid = world.task()
    agent = await world.agent()
    made = world.backfill(
        role="user", task_id=tid, start="2026-04-27", end="2026-04-28", max_concurrent=2
    )
    assert made.id is not None and made.status == "pending_approval"
    await world.step(agent)
    assert world.runs(backfill_id=made.id) == []
    assert control(world, made.id, "approve") == "running"
    await world.step(agent)
    assert len(world.runs(backfill_id=made.id)) == 2


async def test_group_runs_wait_for_the_upstream_group_of_the_same_business_date(
    world: World,
) -> None:
    upstream = world.group("extract", ("pull",))
    downstream = world.group("report", ("build",))
    with session_scope(world.engine) as session:
        session.add(GroupDependency(group_id=downstream, upstream_group_id=upstream))
    agent = await world.agent()
    late = world.backfill(
        group_id=downstream, start="2026-04-01", end="2026-04-02", max_concurrent=2
    )
    assert late.id is not None
    for _ in range(3):
        await world.step(agent)
    assert world.runs(status="SUCCESS") == []  # no upstream run of those dates yet
    early = world.backfill(group_id=upstream, start="2026-04-02", end="2026-04-02")
    assert early.id is not None
    for _ in range(6):
        await world.step(agent)
    done = {(r.business_date, r.status) for r in world.runs(backfill_id=late.id)}
    assert done == {(date(2026, 4, 1), "ACTIVE"), (date(2026, 4, 2), "SUCCESS")}
    with session_scope(world.engine) as session:
        assert session.exec(select(GroupDependency)).all()
