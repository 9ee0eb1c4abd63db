"""The fleet as a caller sees it: every agent (they serve all instances), with only the
caller's runs among those each one holds."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.db.tables import Agent, Run
from app.domain.states import ON_AGENT
from app.hub import fleet
from app.hub.hub import AgentHub
from app.models.schemas import AgentPublic
from app.services.actor import Actor


class AgentView(AgentPublic):
    draining: bool
    # False while the agent reports a problem that keeps it from taking work (`problem`
    # says which, e.g. its spool is full); its status stays online.
    healthy: bool = True
    problem: str | None = None


def agent_view(hub: AgentHub, agent: Agent, running: list[int]) -> AgentView:
    return AgentView(
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


def list_agents(session: Session, *, actor: Actor, hub: AgentHub) -> list[AgentView]:
    """Every agent (they serve all instances); the runs each holds only of the caller's."""
    agents = session.exec(select(Agent).order_by(col(Agent.name))).all()
    held = session.exec(
        select(Run.agent, Run.id).where(
            col(Run.status).in_([s.value for s in ON_AGENT]), actor.scope.condition(Run.instance)
        )
    ).all()
    running: dict[str, list[int]] = {}
    for name, run_id in held:
        if name and run_id:
            running.setdefault(name, []).append(run_id)
    return [agent_view(hub, a, sorted(running.get(a.name, []))) for a in agents]
