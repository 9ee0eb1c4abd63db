"""The fleet as a caller sees it: every agent (they serve all instances), with only the
caller's runs among those each one holds; draining, undraining and removing an agent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.tables import Agent, Run
from app.db.unit_of_work import record
from app.domain.capacity import Allocation, capacity_of, total
from app.domain.events import DispatchWanted
from app.domain.roles import Role
from app.domain.states import ON_AGENT
from app.errors import NotFound
from app.hub import fleet
from app.hub.hub import AgentHub
from app.models.schemas import AgentPublic
from app.protocol.frames import CLOSE_REMOVED
from app.services.actor import Actor


class AgentView(AgentPublic):
    draining: bool
    # False while the agent reports a problem that keeps it from taking work (`problem`
    # says which, e.g. its spool is full); its status stays online.
    healthy: bool = True
    problem: str | None = None


def agent_view(
    hub: AgentHub, agent: Agent, running: list[int], held: list[Allocation] | None = None
) -> AgentView:
    """`held`: what each run on the agent holds (of every instance: capacity is shared)."""
    return AgentView(
        capacity=capacity_of(agent.resources or {}).to_json(),
        allocated=allocated_view(held or []),
        name=agent.name,
        status=agent.status,
        connected=agent.name in hub.connections,
        labels=agent.labels,
        cpus=agent.cpus,
        memory=agent.memory,
        gpus=agent.gpus,
        docker=agent.docker,
        last_heartbeat=agent.last_heartbeat,
        version=agent.version,
        max_runs=agent.max_runs,
        resources=fleet.public_resources(agent),
        running_runs=running,
        draining=fleet.is_draining(agent),
        healthy=fleet.problem_of(agent) is None,
        problem=fleet.problem_of(agent),
    )


def allocated_view(held: list[Allocation]) -> dict[str, Any]:
    """The sum of what runs hold, with what each NUMA node's bound runs hold."""
    view = total(held).to_json()
    view.pop("numa_node", None)
    nodes: dict[str, dict[str, float]] = {}
    for one in held:
        if one.numa_node is not None:
            node = nodes.setdefault(str(one.numa_node), {"cores": 0.0, "memory": 0})
            node["cores"] += one.cores
            node["memory"] += one.memory
    view["numa"] = nodes
    return view


def _held_by_agent(session: Session, name: str | None = None) -> dict[str, list[Allocation]]:
    stmt = select(Run.agent, Run.allocation).where(col(Run.status).in_(list(ON_AGENT)))
    if name is not None:
        stmt = stmt.where(Run.agent == name)
    held: dict[str, list[Allocation]] = {}
    for agent, allocation in session.exec(stmt).all():
        if agent and allocation:
            held.setdefault(agent, []).append(Allocation.from_json(allocation))
    return held


def get_agent(session: Session, *, actor: Actor, hub: AgentHub, name: str) -> AgentView:
    """One agent, with the runs it holds of the caller's instances."""
    agent = session.exec(select(Agent).where(Agent.name == name)).first()
    if agent is None:
        raise NotFound("agent", name)
    running = session.exec(
        select(Run.id).where(
            Run.agent == name,
            col(Run.status).in_([s.value for s in ON_AGENT]),
            actor.scope.condition(Run.instance),
        )
    ).all()
    held = _held_by_agent(session, name).get(name, [])
    return agent_view(hub, agent, sorted(r for r in running if r is not None), held)


def list_agents(session: Session, *, actor: Actor, hub: AgentHub) -> list[AgentView]:
    """Every agent (they serve all instances); the runs each holds only of the caller's."""
    agents = session.exec(select(Agent).order_by(col(Agent.name))).all()
    held_by = _held_by_agent(session)
    held = session.exec(
        select(Run.agent, Run.id).where(
            col(Run.status).in_([s.value for s in ON_AGENT]), actor.scope.condition(Run.instance)
        )
    ).all()
    running: dict[str, list[int]] = {}
    for name, run_id in held:
        if name and run_id:
            running.setdefault(name, []).append(run_id)
    return [
        agent_view(hub, a, sorted(running.get(a.name, [])), held_by.get(a.name, [])) for a in agents
    ]


def set_draining(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    name: str,
    draining: bool,
    hub: AgentHub,
) -> AgentView:
    """Drain: the agent finishes its running work and gets no new work (until undrained;
    kept across restarts of the server and of the agent)."""
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        before = fleet.is_draining(fleet.get_agent(session, name))
        agent = fleet.set_draining(session, name, draining)
        session.flush()
        if before != draining:
            actor.audit(
                session,
                at=now,
                action="agent.drain" if draining else "agent.undrain",
                target_kind="agent",
                target_id=name,
                before={"draining": before},
                after={"draining": draining},
            )
        view = agent_view(hub, agent, fleet.held_runs(session, name))
        record(session, DispatchWanted())
    return view


def _remove(engine: Engine, actor: Actor, now: datetime, name: str) -> None:
    with session_scope(engine) as session:
        removed = fleet.remove(session, name)
        actor.audit(
            session,
            at=now,
            action="agent.remove",
            target_kind="agent",
            target_id=name,
            before={"status": removed.was},
        )


async def remove_agent(
    engine: Engine, *, actor: Actor, now: datetime, name: str, hub: AgentHub
) -> None:
    """Forget an agent that is offline, or drained with no runs left (Conflict says why
    not). A drained agent still connected is told so and stops instead of dialling again."""
    actor.require(Role.ADMIN)
    await anyio.to_thread.run_sync(_remove, engine, actor, now, name)
    await hub.disconnect(name, code=CLOSE_REMOVED, reason="removed from the fleet")
