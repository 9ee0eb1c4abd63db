"""/policies: what runs may do, per instance and per agent (app/domain/run_policy.py).

Operators read them; an instance's policy is edited by an admin holding that instance, an
agent's by an unscoped admin (an agent serves every instance). An instance without a stored
policy has the default one: any user but root, no bind mounts, any image. What an agent
enforces itself (its own command line or policy file) is shown as `reported`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, select

from app.api.deps import AdminDep, AuditDep, ContextDep, OperatorDep, ScopeDep
from app.context import AppContext
from app.db import policies
from app.db.engine import session_scope
from app.db.policies import Kind
from app.db.policy_tables import RunPolicyRow
from app.db.tables import Agent, User
from app.domain.run_policy import INSTANCE_DEFAULT, RunPolicy
from app.errors import Forbidden, InvalidInput

router = APIRouter(prefix="/policies", tags=["policies"])
ScopeName = Annotated[str, Path(min_length=1, max_length=200)]


class PolicyBody(BaseModel):
    """`null` for a list means "any"; `users` may hold `*` (anyone but root)."""

    model_config = ConfigDict(extra="forbid")
    users: list[str] | None = None
    mounts: list[str] | None = None
    images: list[str] | None = None
    privileged: bool = False
    default_user: str | None = None

    def policy(self) -> RunPolicy:
        try:
            return RunPolicy.from_dict(self.model_dump())
        except ValueError as exc:
            field, _, problem = str(exc).partition(": ")
            raise InvalidInput(field, problem) from exc


class PolicyPublic(BaseModel):
    kind: str
    name: str
    policy: dict[str, Any] | None  # null: no stored policy for this agent
    stored: bool
    updated_by: str | None = None
    updated_at: datetime | None = None
    reported: dict[str, Any] | None = None  # an agent's own policy, from its hello


class PolicyList(BaseModel):
    instances: list[PolicyPublic]
    agents: list[PolicyPublic]


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


def _unscoped(user: User, scope: ScopeDep) -> None:
    if not scope.everything:
        raise Forbidden("an agent's policy is edited by an admin of every instance")


@router.get("", response_model=PolicyList)
def list_policies(context: ContextDep, user: OperatorDep, scope: ScopeDep) -> PolicyList:
    with session_scope(context.engine) as session:
        instances = [
            _public("instance", r.name, r)
            for r in policies.all_rows(session, "instance")
            if scope.allows(r.name)
        ]
        agents = [
            _public("agent", r.name, r, _reported(session, r.name))
            for r in policies.all_rows(session, "agent")
        ]
        return PolicyList(instances=instances, agents=agents)


@router.get("/instances/{instance}", response_model=PolicyPublic)
def read_instance_policy(
    instance: ScopeName, context: ContextDep, user: OperatorDep, scope: ScopeDep
) -> PolicyPublic:
    scope.check(instance, "instance", instance)
    with session_scope(context.engine) as session:
        return _public("instance", instance, policies.stored(session, "instance", instance))


@router.put("/instances/{instance}", response_model=PolicyPublic)
def put_instance_policy(
    instance: ScopeName,
    body: PolicyBody,
    context: ContextDep,
    user: AdminDep,
    scope: ScopeDep,
    audit: AuditDep,
) -> PolicyPublic:
    scope.check(instance, "instance", instance)
    return _put(context, audit, user, "instance", instance, body.policy(), instance)


@router.delete("/instances/{instance}", status_code=204)
def delete_instance_policy(
    instance: ScopeName, context: ContextDep, user: AdminDep, scope: ScopeDep, audit: AuditDep
) -> Response:
    scope.check(instance, "instance", instance)
    _delete(context, audit, "instance", instance, instance)
    return Response(status_code=204)


@router.get("/agents/{name}", response_model=PolicyPublic)
def read_agent_policy(name: ScopeName, context: ContextDep, user: OperatorDep) -> PolicyPublic:
    with session_scope(context.engine) as session:
        return _public(
            "agent", name, policies.stored(session, "agent", name), _reported(session, name)
        )


@router.put("/agents/{name}", response_model=PolicyPublic)
def put_agent_policy(
    name: ScopeName,
    body: PolicyBody,
    context: ContextDep,
    user: AdminDep,
    scope: ScopeDep,
    audit: AuditDep,
) -> PolicyPublic:
    _unscoped(user, scope)
    return _put(context, audit, user, "agent", name, body.policy(), None)


@router.delete("/agents/{name}", status_code=204)
def delete_agent_policy(
    name: ScopeName, context: ContextDep, user: AdminDep, scope: ScopeDep, audit: AuditDep
) -> Response:
    _unscoped(user, scope)
    _delete(context, audit, "agent", name, None)
    return Response(status_code=204)


def _put(
    context: AppContext,
    audit: AuditDep,
    user: User,
    kind: Kind,
    name: str,
    policy: RunPolicy,
    instance: str | None,
) -> PolicyPublic:
    with session_scope(context.engine) as session:
        row = policies.stored(session, kind, name)
        before = dict(row.policy) if row is not None else None
        row = policies.save(session, kind, name, policy, by=user.username, at=context.clock.now())
        audit(
            session,
            action="policy.update",
            target_kind=f"{kind}_policy",
            target_id=name,
            before=before,
            after=row.policy,
            instance=instance,
        )
        return _public(kind, name, row, _reported(session, name) if kind == "agent" else None)


def _delete(
    context: AppContext, audit: AuditDep, kind: Kind, name: str, instance: str | None
) -> None:
    with session_scope(context.engine) as session:
        row = policies.stored(session, kind, name)
        before = dict(row.policy) if row is not None else None
        policies.remove(session, kind, name)
        audit(
            session,
            action="policy.delete",
            target_kind=f"{kind}_policy",
            target_id=name,
            before=before,
            instance=instance,
        )
