"""Run policies: what runs may do, per instance and per agent (app/domain/run_policy.py).

Operators read them; an instance's policy is edited by an admin holding that instance, an
agent's by an unscoped admin (an agent serves every instance). An instance without a stored
policy has the default one: any user but root, no bind mounts, any image. What an agent
enforces itself (its own command line or policy file) is shown as `reported`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from app.db import policies
from app.db.engine import session_scope
from app.db.policies import Kind
from app.db.policy_tables import RunPolicyRow
from app.db.tables import Agent
from app.domain.roles import Role
from app.domain.run_policy import INSTANCE_DEFAULT, RunPolicy
from app.errors import Forbidden, InvalidInput
from app.models.policy_schemas import PolicyBody, PolicyList, PolicyPublic
from app.services.actor import Actor


def _policy(body: PolicyBody) -> RunPolicy:
    try:
        return RunPolicy.from_dict(body.model_dump())
    except ValueError as exc:
        field, _, problem = str(exc).partition(": ")
        raise InvalidInput(field, problem) from exc


def _public(
    kind: Kind, name: str, row: RunPolicyRow | None, reported: dict[str, Any] | None = None
) -> PolicyPublic:
    if row is not None:
        return PolicyPublic(
            kind=kind,
            name=name,
            policy=row.policy,
            stored=True,
            updated_by=row.updated_by,
            updated_at=row.updated_at,
            reported=reported,
        )
    fallback = INSTANCE_DEFAULT.to_dict() if kind == "instance" else None
    return PolicyPublic(kind=kind, name=name, policy=fallback, stored=False, reported=reported)


def _reported(session: Session, agent: str) -> dict[str, Any] | None:
    row = session.exec(select(Agent).where(Agent.name == agent)).first()
    policy = (row.resources or {}).get("policy") if row is not None else None
    return policy if isinstance(policy, dict) else None


def _may_edit(actor: Actor, kind: Kind, name: str) -> None:
    actor.require(Role.ADMIN)
    if kind == "instance":
        actor.scope.check(name, "instance", name)
    elif not actor.scope.everything:
        raise Forbidden("an agent's policy is edited by an admin of every instance")


def list_policies(session: Session, *, actor: Actor) -> PolicyList:
    actor.require(Role.OPERATOR)
    instances = [
        _public("instance", r.name, r)
        for r in policies.all_rows(session, "instance")
        if actor.scope.allows(r.name)
    ]
    agents = [
        _public("agent", r.name, r, _reported(session, r.name))
        for r in policies.all_rows(session, "agent")
    ]
    return PolicyList(instances=instances, agents=agents)


def read_policy(session: Session, *, actor: Actor, kind: Kind, name: str) -> PolicyPublic:
    actor.require(Role.OPERATOR)
    if kind == "instance":
        actor.scope.check(name, "instance", name)
        return _public(kind, name, policies.stored(session, kind, name))
    return _public(kind, name, policies.stored(session, kind, name), _reported(session, name))


def put_policy(
    engine: Engine, *, actor: Actor, now: datetime, kind: Kind, name: str, body: PolicyBody
) -> PolicyPublic:
    _may_edit(actor, kind, name)
    policy = _policy(body)
    with session_scope(engine) as session:
        row = policies.stored(session, kind, name)
        before = dict(row.policy) if row is not None else None
        row = policies.save(session, kind, name, policy, by=actor.username, at=now)
        actor.audit(
            session,
            at=now,
            action="policy.update",
            target_kind=f"{kind}_policy",
            target_id=name,
            before=before,
            after=row.policy,
            instance=name if kind == "instance" else None,
        )
        return _public(kind, name, row, _reported(session, name) if kind == "agent" else None)


def delete_policy(engine: Engine, *, actor: Actor, now: datetime, kind: Kind, name: str) -> None:
    _may_edit(actor, kind, name)
    with session_scope(engine) as session:
        row = policies.stored(session, kind, name)
        before = dict(row.policy) if row is not None else None
        policies.remove(session, kind, name)
        actor.audit(
            session,
            at=now,
            action="policy.delete",
            target_kind=f"{kind}_policy",
            target_id=name,
            before=before,
            instance=name if kind == "instance" else None,
        )
