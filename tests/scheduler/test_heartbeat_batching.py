"""The fleet's heartbeats are written together (app/hub/heartbeats.py): one transaction per
flush for every agent's beats, none lost (a newer beat wins, a failed flush keeps its beats),
a lost agent still detected on time (injected clock), and a crash between beat and flush
leaves each row as the last flush wrote it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import select

from app.db.engine import session_scope
from app.db.tables import Agent
from app.hub import heartbeats
from app.hub.hub import AgentHub
from app.protocol import frames as p
from app.scheduler.service import SchedulerService
from app.server import create_app
from app.settings import Settings
from tests.scheduler.test_stepped_runs import World
from tests.scheduler.test_stepped_runs import world as world

TIMEOUT = timedelta(seconds=Settings().heartbeat_timeout_seconds)


def hub_of(world: World) -> AgentHub:
    hub: AgentHub = world.app.state.context.hub
    return hub


def rows(world: World) -> dict[str, tuple[datetime | None, str, dict[str, Any]]]:
    with session_scope(world.engine) as session:
        return {
            a.name: (a.last_heartbeat, a.status, dict(a.resources or {}))
            for a in session.exec(select(Agent)).all()
        }


@contextmanager
def commits(engine: Engine) -> Iterator[list[int]]:
    counted: list[int] = []

    def count(_connection: object) -> None:
        counted.append(1)

    event.listen(engine, "commit", count)
    try:
        yield counted
    finally:
        event.remove(engine, "commit", count)


async def test_every_agents_beats_are_written_in_one_transaction(world: World) -> None:
    fleet = [world.agent(f"a{n}") for n in range(5)]
    for agent in fleet:
        await agent.connect()
    connected = rows(world)
    beat = world.at(world.clock.now() + timedelta(seconds=5))
    for agent in fleet:
        await agent.heartbeat(flush=False)
    assert rows(world) == connected  # noted, not yet written
    assert sorted(hub_of(world).beats.pending()) == [f"a{n}" for n in range(5)]

    with commits(world.engine) as counted:
        await hub_of(world).flush_beats()
    assert len(counted) == 1
    assert {name: at for name, (at, _, _) in rows(world).items()} == {
        f"a{n}": beat for n in range(5)
    }
    assert hub_of(world).beats.pending() == {}
    with commits(world.engine) as counted:  # nothing pending: no transaction at all
        await hub_of(world).flush_beats()
    assert counted == []


async def test_the_newest_beat_wins_and_a_bare_beat_keeps_what_was_reported(
    world: World,
) -> None:
    agent = world.agent("a")
    await agent.connect()
    hub = hub_of(world)
    connection = hub.connections["a"]
    world.at(world.clock.now() + timedelta(seconds=5))
    hub.beats.note(connection, p.Heartbeat(resources={"cpus": 4, "problem": "spool full"}))
    second = world.at(world.clock.now() + timedelta(seconds=5))
    hub.beats.note(connection, p.Heartbeat())  # before the flush: its time, the same report
    await hub.flush_beats()
    at, status, resources = rows(world)["a"]
    assert (at, status) == (second, "online")
    assert resources == {"cpus": 4, "problem": "spool full"}
    # What dispatch reads of the fleet comes from the row the flush wrote.
    assert {s.name: s.problem for s in hub.slots({})} == {"a": "spool full"}


async def test_a_failed_flush_writes_nothing_and_loses_no_beat(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = [world.agent(name) for name in ("a", "b")]
    for agent in fleet:
        await agent.connect()
    before = rows(world)
    first = world.at(world.clock.now() + timedelta(seconds=5))
    for agent in fleet:
        await agent.heartbeat(flush=False)

    def broken(*_args: object) -> set[int]:
        raise RuntimeError("the database went away mid-flush")

    # The token check runs after the rows' UPDATEs went out (autoflush): all or nothing.
    monkeypatch.setattr(heartbeats, "valid_tokens", broken)
    await hub_of(world).flush_beats()  # logged, not raised: the loop goes on
    assert rows(world) == before
    assert sorted(hub_of(world).beats.pending()) == ["a", "b"]

    second = world.at(first + timedelta(seconds=5))
    await fleet[0].heartbeat(flush=False)  # a newer beat of `a` arrives meanwhile
    monkeypatch.undo()
    await hub_of(world).flush_beats()
    written = rows(world)
    assert (written["a"][0], written["b"][0]) == (second, first)
    assert hub_of(world).beats.pending() == {}


async def test_a_flush_never_moves_a_heartbeat_back(world: World) -> None:
    """A beat noted before a hello (which writes its own time) is older than the row."""
    agent = world.agent("a")
    await agent.connect()
    hub = hub_of(world)
    connection = hub.connections["a"]
    hub.beats.note(connection, p.Heartbeat())
    newer = world.clock.now() + timedelta(seconds=3)
    with session_scope(world.engine) as session:
        row = session.exec(select(Agent).where(Agent.name == "a")).one()
        row.last_heartbeat = newer
    await hub.flush_beats()
    assert rows(world)["a"][0] == newer


async def test_a_lost_agent_is_detected_on_time(world: World) -> None:
    """Its last beat, noted and not yet flushed when the connection drops, is written as it
    goes: the agent is lost at the first maintenance pass past the timeout from that beat,
    not before and not later; another agent that keeps beating is not."""
    world.task(target="gone")
    gone, stays = world.agent("gone"), world.agent("stays")
    await gone.connect()
    await stays.connect()
    world.at(world.clock.now() + timedelta(hours=1))
    run_id = world.fire()
    await world.scheduler.dispatch_once(world.clock.now())
    await gone.settle()
    beat = world.at(world.clock.now() + timedelta(seconds=2))
    await gone.heartbeat(flush=False)
    await gone.vanish()
    await hub_of(world).flush_beats()  # the loop's next flush (`stays` is still connected)
    assert rows(world)["gone"][0] == beat

    tick = beat
    while world.run(run_id).status == "RUNNING":
        tick = world.at(tick + timedelta(seconds=1))
        await stays.heartbeat()
        changed = world.scheduler.maintenance_once(tick)
        assert changed == (tick - beat > TIMEOUT)
    assert tick - beat == TIMEOUT + timedelta(seconds=1)
    assert (world.run(run_id).status, world.run(run_id).reason) == ("FAILED", "agent lost")
    assert world.agent_status("gone") == "offline"
    assert world.agent_status("stays") == "online"


async def test_a_crash_between_beat_and_flush_leaves_the_last_flushed_state(
    world: World,
) -> None:
    """The server dies with beats noted and not written: every row is as the last flush
    left it (not half of the next one), and a new server counts the silence from there."""
    fleet = [world.agent(name) for name in ("a", "b")]
    for agent in fleet:
        await agent.connect()
    flushed = world.at(world.clock.now() + timedelta(seconds=5))
    for agent in fleet:
        await agent.heartbeat()  # written
    written = rows(world)
    assert {at for at, _, _ in written.values()} == {flushed}
    world.at(flushed + timedelta(seconds=5))
    hub_of(world).beats.note(hub_of(world).connections["a"], p.Heartbeat(resources={"x": 1}))
    await fleet[1].heartbeat(flush=False)
    # The crash: the noted beats die with this server; a new one opens the same database.
    assert rows(world) == written
    settings = Settings(data_dir=world.app.state.context.settings.data_dir, local_agent=False)
    restarted = create_app(settings, clock=world.clock, engine=world.engine, start_scheduler=False)
    scheduler: SchedulerService = restarted.state.context.scheduler
    scheduler.leadership.is_leader = True
    scheduler.started_at = flushed - timedelta(hours=1)  # long leading: no grace left
    scheduler.maintenance_once(flushed + TIMEOUT)
    assert rows(world) == written  # silent for exactly the timeout: not yet lost
    scheduler.maintenance_once(flushed + TIMEOUT + timedelta(seconds=1))
    assert {name: (at, status) for name, (at, status, _) in rows(world).items()} == {
        "a": (flushed, "offline"),
        "b": (flushed, "offline"),
    }


async def test_a_beat_that_changes_health_is_stored_at_once_in_order(world: World) -> None:
    """A full spool (or a problem) must stop dispatch at once, not a flush later: such a
    beat is stored with the agent's reports; a routine beat after it waits for the flush."""
    agent = world.agent("a")
    await agent.connect()
    hub = hub_of(world)
    full = world.at(world.clock.now() + timedelta(seconds=5))
    agent._send_text(
        p.Heartbeat(resources={"spool_full": True, "problem": "spool full"}).model_dump_json()
    )
    await agent.settle()  # stored with the reports: no flush
    at, _, resources = rows(world)["a"]
    assert (at, resources) == (full, {"spool_full": True, "problem": "spool full"})
    assert {s.name: s.problem for s in hub.slots({})} == {"a": "spool full"}
    assert hub.beats.pending() == {}  # written: not flushed again

    world.at(full + timedelta(seconds=5))
    agent._send_text(
        p.Heartbeat(
            resources={"spool_full": True, "problem": "spool full", "load_1m": 1}
        ).model_dump_json()
    )
    await agent.settle()
    assert rows(world)["a"][0] == full  # the same health: waits for the flush
    assert list(hub.beats.pending()) == ["a"]
