"""Run policies as stored: per instance (a default applies when none is stored) and per
agent (none stored: the agent's name adds no rule)."""

from __future__ import annotations

from collections.abc import Mapping
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
