"""An agent that reports a problem (its spool is full) gets no work, and runs say why they
wait; the problem is read from what the agent last reported (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from app.db.engine import session_scope
from app.db.tables import Agent
from app.domain.placement import AgentSlot
from app.domain.placer import choose_agent
from app.hub import fleet

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FULL = "spool full: no space left on the device (/srv/agent/spool)"


def _slot(name: str, problem: str | None = None) -> AgentSlot:
    return AgentSlot(name=name, labels={}, max_runs=None, running=0, docker=False, problem=problem)


def test_an_unhealthy_target_makes_the_run_wait_naming_the_problem() -> None:
    reason = choose_agent({"command": "true", "target": "a1"}, [_slot("a1", FULL)])
    assert reason == f"waiting for a healthy agent (a1: {FULL})"


def test_work_goes_to_a_healthy_agent_only() -> None:
    agents = [_slot("a1", FULL), _slot("a2")]
    chosen = choose_agent({"command": "true"}, agents)
    assert isinstance(chosen, AgentSlot) and chosen.name == "a2"
    assert isinstance(choose_agent({"command": "true"}, [_slot("a1", FULL)]), str)


def test_the_problem_comes_from_the_agents_last_report(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(
            Agent(
                name="a1",
                status="online",
                created_at=NOW,
                resources={"cpus": 2, "spool_full": True, "problem": FULL},
            )
        )
        session.add(
            Agent(
                name="a2",
                status="online",
                created_at=NOW,
                resources={"cpus": 2, "spool_full": False},
            )
        )
        session.add(
            Agent(name="a3", status="online", created_at=NOW, resources={"spool_full": True})
        )
    assert fleet.open_for_work(engine, ["a1", "a2", "a3", "ghost"]) == {
        "a1": FULL,
        "a2": None,
        "a3": "spool full",
    }
    assert fleet.dispatchable(engine, ["a1", "a2"]) == {"a1", "a2"}  # not draining
