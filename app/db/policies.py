"""Run policies as stored: per instance (a default applies when none is stored) and per
agent (none stored: the agent's name adds no rule)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from app.db.policy_tables import RunPolicyRow
from app.domain.run_policy import INSTANCE_DEFAULT, RunPolicy

Kind = Literal["instance", "agent"]


def stored(session: Session, kind: Kind, name: str) -> RunPolicyRow | None:
    stmt = select(RunPolicyRow).where(RunPolicyRow.kind == kind, RunPolicyRow.name == name)
    return session.exec(stmt).first()


def instance_policy(session: Session, instance: str) -> RunPolicy:
    row = stored(session, "instance", instance)
    return INSTANCE_DEFAULT if row is None else RunPolicy.from_dict(row.policy)


def agent_policy(session: Session, agent: str) -> RunPolicy | None:
    row = stored(session, "agent", agent)
    return None if row is None else RunPolicy.from_dict(row.policy)


@dataclass
class PassPolicies:
    """The policies one dispatch pass reads once: of instances, and stored for agents."""

    instances: dict[str, RunPolicy] = field(default_factory=dict)
    agents: dict[str, RunPolicy | None] = field(default_factory=dict)

    def of(self, session: Session, instance: str, agent: str) -> list[tuple[str, RunPolicy]]:
        """(where, policy) for `instance` and, when one is stored, `agent`."""
        if instance not in self.instances:
            self.instances[instance] = instance_policy(session, instance)
        if agent not in self.agents:
            self.agents[agent] = agent_policy(session, agent)
        found = [(f"instance {instance!r}", self.instances[instance])]
        stored_for_agent = self.agents[agent]
        if stored_for_agent is not None:
            found.append((f"agent {agent!r}", stored_for_agent))
        return found


def save(
    session: Session, kind: Kind, name: str, policy: RunPolicy, *, by: str, at: datetime
) -> RunPolicyRow:
    row = stored(session, kind, name)
    if row is None:
        row = RunPolicyRow(kind=kind, name=name)
        session.add(row)
    row.policy = policy.to_dict()
    row.updated_by, row.updated_at = by, at
    session.flush()
    return row


def remove(session: Session, kind: Kind, name: str) -> bool:
    row = stored(session, kind, name)
    if row is not None:
        session.delete(row)
    return row is not None


def all_rows(session: Session, kind: Kind) -> list[RunPolicyRow]:
    stmt = select(RunPolicyRow).where(RunPolicyRow.kind == kind).order_by(col(RunPolicyRow.name))
    return list(session.exec(stmt).all())


def as_json(policy: RunPolicy | Mapping[str, Any]) -> dict[str, Any]:
    return policy.to_dict() if isinstance(policy, RunPolicy) else dict(policy)
