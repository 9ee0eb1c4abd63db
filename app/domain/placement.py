"""Placement: which connected agent may take a run now, or why none can. Pure: the agents
are described by what dispatch knows of them (`AgentSlot`), nothing is read or written.

A run goes only where its request (app/domain/capacity.py) fits what the agent's runs do not
hold yet; its GPUs are the agent's by index, one run each. Targets, label selectors, Docker,
health and policy are applied first (`eligible`), capacity last (app/domain/placer.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from app.domain.capacity import Allocation, Capacity
from app.domain.run_policy import RunPolicy, check_resolved

Policy = Literal["spread", "pack"]
POLICIES: tuple[Policy, ...] = ("spread", "pack")


@dataclass(kw_only=True)
class AgentSlot:
    """What dispatch knows of a connected agent."""

    name: str
    labels: dict[str, str]
    max_runs: int | None
    running: int
    docker: bool
    draining: bool = False
    # What the agent reports keeps it from taking work (e.g. "spool full: ..."), if anything.
    problem: str | None = None
    # What the agent says it enforces itself (None: it reports nothing, so nothing is known).
    policy: RunPolicy | None = None
    # What it offers (None: an agent that reports no cores; its cores and memory are not
    # counted) and what its runs hold now (grows as a dispatch pass places runs).
    capacity: Capacity | None = None
    allocated: Allocation = field(default_factory=Allocation)

    @property
    def has_room(self) -> bool:
        return not self.draining and (self.max_runs is None or self.running < self.max_runs)


def eligible(spec: Mapping[str, object], agents: Sequence[AgentSlot]) -> list[AgentSlot] | str:
    """The agents that may run `spec` at all (target, labels, Docker, health, policy), or
    the reason why none may."""
    target = spec.get("target")
    if target:
        matches = [a for a in agents if a.name == target]
        if not matches:
            return f"waiting for agent {target} to be online"
    else:
        matches = list(agents)
        if not matches:
            return "waiting for an online agent"
    selector = spec.get("labels") or {}
    assert isinstance(selector, dict)
    matches = [a for a in matches if all(a.labels.get(k) == v for k, v in selector.items())]
    if not matches:
        wanted = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        return f"waiting for an online agent with labels {wanted}"
    if spec.get("image"):
        matches = [a for a in matches if a.docker]
        if not matches:
            return "waiting for an online agent with Docker"
    healthy = [a for a in matches if a.problem is None]
    if not healthy:
        by_name = sorted(matches, key=lambda a: a.name)
        problems = "; ".join(f"{a.name}: {a.problem}" for a in by_name)
        return f"waiting for a healthy agent ({problems})"
    matches = healthy
    allowed = [a for a in matches if a.policy is None or not check_resolved(spec, a.policy)]
    if not allowed:
        first = matches[0]
        assert first.policy is not None
        return (
            f"waiting for an agent whose policy allows this run ({first.name}: "
            f"{check_resolved(spec, first.policy)[0]})"
        )
    return allowed
