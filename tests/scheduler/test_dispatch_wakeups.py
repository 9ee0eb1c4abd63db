"""What a dependency hop costs the server between an ended run and the next start: the hub
wakes dispatch as soon as the end is stored (before it acknowledges it, with no tick to wait
for), and a pass that finds nothing ready reads nothing else. Stepped with the injected
clock and the in-package fake agent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Engine, event

from app.db.engine import session_scope
from app.db.tables import DependencyEdge, Task, TaskGroup
from app.domain.states import TriggerKind
from app.scheduler.group_runs import start_group_run
from tests.scheduler.test_stepped_runs import NINE, World
from tests.scheduler.test_stepped_runs import world as world


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_an_ended_run_wakes_dispatch_before_it_is_acknowledged(world: World) -> None:
    world.task(target="fake")
    agent = world.agent()
    await agent.connect()
    world.at(world.clock.now() + NINE)
    run_id = world.fire()
    await world.scheduler.dispatch_once(world.clock.now())
    await agent.settle()
    hub = world.app.state.context.hub
    acks_when_woken: list[int] = []
    hub.on_change = lambda: acks_when_woken.append(len(agent.acks))

    await agent.finish(run_id, exit_code=0)

    assert acks_when_woken == [0]  # woken once, on the store of the end, before its ack
    assert [a.run_id for a in agent.acks] == [run_id]


async def test_a_pass_with_nothing_ready_reads_only_the_ready_runs(world: World) -> None:
    world.task(target="fake")
    agent = world.agent()
    await agent.connect()
    world.at(world.clock.now() + NINE)
    world.fire()
    assert await world.scheduler.dispatch_once(world.clock.now()) == 1
    await agent.settle()  # RUNNING on the agent: what agents hold is there to be read

    with statements(world.engine) as seen:
        assert await world.scheduler.dispatch_once(world.clock.now()) == 0

    assert len(seen) == 1, seen
    assert seen[0].startswith("SELECT run.id, run.instance, run.task_id, run.group_run_id")


async def test_the_next_run_of_a_chain_starts_in_the_pass_after_its_upstream_ends(
    world: World,
) -> None:
    """The hop's pass, end to end: the downstream is started with its upstream's results,
    and a pass reads a group's edges, its group run and its runs once, whatever it starts
    (and the offline agents not at all: they are read only to say why a run waits)."""
    agent = world.agent()
    await agent.connect()
    with session_scope(world.engine) as session:
        group = TaskGroup(name="chain")
        session.add(group)
        session.flush()
        tasks = [Task(name=f"step{i}", command="true", group_id=group.id) for i in range(3)]
        session.add_all(tasks)
        session.flush()
        for up, down in zip(tasks, tasks[1:], strict=False):
            session.add(DependencyEdge(group_id=group.id, upstream_id=up.id, downstream_id=down.id))
        session.flush()
        start_group_run(session, group, now=world.clock.now(), kind=TriggerKind.MANUAL)
    for step in range(3):
        with statements(world.engine) as seen:
            assert await world.scheduler.dispatch_once(world.clock.now()) == 1
        edges = [s for s in seen if "FROM dependency_edge" in s]
        group_runs_runs = [s for s in seen if "FROM run" in s and "run.group_run_id IN" in s]
        assert len(edges) == 1 and len(group_runs_runs) == 1, seen
        assert len([s for s in seen if "FROM group_run " in s]) == 1, seen
        assert not [s for s in seen if "FROM agent WHERE agent.status" in s]  # nobody waits
        await agent.settle()
        started = agent.starts[-1]
        assert started.command == "true"
        if step:
            assert started.env.get("ALMANAC_UPSTREAM_STEP0_N") == "1"
        world.at(world.clock.now() + timedelta(seconds=1))
        await agent.finish(started.run_id, exit_code=0, results={"n": 1} if not step else None)
