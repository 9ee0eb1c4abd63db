"""A finished date starts the next one in the transaction that stored its end: no backfill
pass (the leader's 1 s tick) is needed between two dates. Here the pass is called once, to
start the first date; every later date starts from the agent's report alone."""

from __future__ import annotations

from datetime import date

from backfill.backfill_world import World


async def _dispatch_and_finish(world: World, agent_runs: list[int]) -> list[int]:
    """One dispatch pass; every run the agent then holds ends SUCCESS (no backfill pass)."""
    await world.scheduler.dispatch_once(world.clock.now())
    agent = world.agents[0]
    await agent.settle()
    done = []
    for run in world.runs(status="RUNNING"):
        await agent.finish(run.id or 0, exit_code=0)
        done.append(run.id or 0)
    agent_runs.extend(done)
    return done


async def test_a_task_date_that_ends_starts_the_next_without_a_backfill_pass(
    world: World,
) -> None:
    tid = world.task()
    await world.agent()
    made = world.backfill(task_id=tid, start="2026-04-20", end="2026-04-24", max_concurrent=1)
    assert made.id is not None
    assert world.scheduler.backfill_once(world.clock.now()) == 1  # the first date only
    finished: list[int] = []
    for expected in range(1, 6):
        assert len(await _dispatch_and_finish(world, finished)) == 1
        runs = world.runs(backfill_id=made.id)
        # The next date's run exists as soon as the last one's end was stored.
        assert len(runs) == min(expected + 1, 5)
        assert len([r for r in runs if r.status == "ACTIVE"]) == (1 if expected < 5 else 0)
    runs = world.runs(backfill_id=made.id)
    assert [r.business_date for r in runs] == [date(2026, 4, d) for d in range(20, 25)]
    assert {r.status for r in runs} == {"SUCCESS"}
    assert world.status(made.id) == "done"  # the last end closed it too


async def test_a_group_date_starts_the_next_when_its_last_task_ends(world: World) -> None:
    gid = world.group()  # load -> sum -> mail
    await world.agent()
    made = world.backfill(group_id=gid, start="2026-04-27", end="2026-04-29", max_concurrent=1)
    assert made.id is not None
    world.scheduler.backfill_once(world.clock.now())
    finished: list[int] = []
    counts = []
    for _ in range(9):  # three tasks a date, one at a time down the chain
        await _dispatch_and_finish(world, finished)
        counts.append(len(world.group_runs(gid)))
    # A group run is added only when the one before has ended (after its third task).
    assert counts == [1, 1, 2, 2, 2, 3, 3, 3, 3]
    assert [g.status for g in world.group_runs(gid)] == ["SUCCESS"] * 3
    assert world.status(made.id) == "done"
    assert len(finished) == 9


async def test_a_paused_backfill_starts_nothing_when_its_run_ends(world: World) -> None:
    from backfill.test_backfill_stepped import control

    tid = world.task()
    await world.agent()
    made = world.backfill(task_id=tid, start="2026-04-20", end="2026-04-24", max_concurrent=1)
    assert made.id is not None
    world.scheduler.backfill_once(world.clock.now())
    await world.scheduler.dispatch_once(world.clock.now())
    await world.agents[0].settle()
    assert control(world, made.id, "pause") == "paused"
    (running,) = world.runs(status="RUNNING")
    await world.agents[0].finish(running.id or 0)
    assert len(world.runs(backfill_id=made.id)) == 1
