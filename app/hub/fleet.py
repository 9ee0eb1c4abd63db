"""The fleet as the database knows it: draining agents (no new work, running work goes on) and
removing agents that are gone.

An agent's `status` column says `online`, `offline` or `draining`. Draining must outlive the
agent going offline and coming back, and the scheduler's lost-agent check overwrites the
status with `offline`, so the drain mark itself is kept in the row's `resources` under
DRAIN_KEY (kept across the agent's own reports by the hub, hidden from the API).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.tables import Agent, Run
from app.domain.states import ON_AGENT
from app.errors import Conflict, NotFound

DRAIN_KEY = "almanac.draining"


def is_draining(agent: Agent) -> bool:
    return bool((agent.resources or {}).get(DRAIN_KEY))


def reported_resources(agent: Agent, reported: Mapping[str, Any]) -> dict[str, Any]:
    """What the agent reported, with the server's drain mark kept."""
    merged = {k: v for k, v in reported.items() if k != DRAIN_KEY}
    if is_draining(agent):
        merged[DRAIN_KEY] = True
    return merged


def public_resources(agent: Agent) -> dict[str, Any]:
    return {k: v for k, v in (agent.resources or {}).items() if k != DRAIN_KEY}


def connected_status(agent: Agent) -> str:
    """The status of an agent that has just said hello or sent a heartbeat."""
    return "draining" if is_draining(agent) else "online"


def problem_of(agent: Agent) -> str | None:
    """What the agent last reported keeps it from taking work (its spool is full, ...), or
    None when it is healthy. Its hello and heartbeats say so (app/agents/disk_guard.py)."""
    resources = agent.resources or {}
    problem = resources.get("problem")
    if isinstance(problem, str) and problem:
        return problem
    return "spool full" if resources.get("spool_full") else None


def dispatchable(engine: Engine, names: Collection[str]) -> set[str]:
    """Those of `names` that may get new work: not draining, and not removed meanwhile (a
    removed agent may still be connected to another replica)."""
    return set(open_for_work(engine, names))


def open_for_work(engine: Engine, names: Collection[str]) -> dict[str, str | None]:
    """`dispatchable`, each with the problem it reports (None when healthy): dispatch gives
    no work to an agent with a problem and says why its runs wait."""
    if not names:
        return {}
    with session_scope(engine) as session:
        return standing(session, names)


def standing(session: Session, names: Collection[str]) -> dict[str, str | None]:
    """`open_for_work` in the caller's transaction (a dispatch pass reads it in its own)."""
    if not names:
        return {}
    rows = session.exec(select(Agent).where(col(Agent.name).in_(list(names)))).all()
    return {row.name: problem_of(row) for row in rows if not is_draining(row)}


def held_runs(session: Session, name: str) -> list[int]:
    stmt = select(Run.id).where(Run.agent == name, col(Run.status).in_(list(ON_AGENT)))
    return sorted(int(run_id) for run_id in session.exec(stmt).all() if run_id is not None)


def get_agent(session: Session, name: str) -> Agent:
    agent = session.exec(select(Agent).where(Agent.name == name).with_for_update()).first()
    if agent is None:
        raise NotFound("agent", name)
    return agent


def set_draining(session: Session, name: str, draining: bool) -> Agent:
    agent = get_agent(session, name)
    resources = {k: v for k, v in (agent.resources or {}).items() if k != DRAIN_KEY}
    if draining:
        resources[DRAIN_KEY] = True
    agent.resources = resources  # a new dict: the JSON column sees the change
    if agent.status != "offline":
        agent.status = connected_status(agent)
    session.add(agent)
    return agent


@dataclass(frozen=True)
class Removed:
    name: str
    was: str


def remove(session: Session, name: str) -> Removed:
    """Forget an agent that is offline, or drained with no runs left; Conflict says why not."""
    agent = get_agent(session, name)
    runs = held_runs(session, name)
    if runs:
        listed = ", ".join(str(r) for r in runs)
        raise Conflict(
            f"agent {name} still holds runs {listed}: wait for them to end or kill them first"
        )
    if agent.status != "offline" and not is_draining(agent):
        raise Conflict(
            f"agent {name} is {agent.status}: drain it first "
            f"(POST /api/v1/agents/{name}/drain) or stop it"
        )
    was = "draining" if is_draining(agent) else agent.status
    session.delete(agent)
    return Removed(name=name, was=was)
