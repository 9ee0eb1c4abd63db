"""/policies: what runs may do, per instance and per agent (app/services/policies.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.api.deps import ActorDep, AdminDep, ContextDep, OperatorDep
from app.db.engine import session_scope
from app.models.policy_schemas import PolicyBody, PolicyList, PolicyPublic
from app.services import policies

router = APIRouter(prefix="/policies", tags=["policies"])
ScopeName = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("", response_model=PolicyList)
def list_policies(context: ContextDep, user: OperatorDep, actor: ActorDep) -> PolicyList:
    with session_scope(context.engine) as session:
        return policies.list_policies(session, actor=actor)


@router.get("/instances/{instance}", response_model=PolicyPublic)
def read_instance_policy(
    instance: ScopeName, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> PolicyPublic:
    with session_scope(context.engine) as session:
        return policies.read_policy(session, actor=actor, kind="instance", name=instance)


@router.put("/instances/{instance}", response_model=PolicyPublic)
def put_instance_policy(
    instance: ScopeName, body: PolicyBody, context: ContextDep, user: AdminDep, actor: ActorDep
) -> PolicyPublic:
    return policies.put_policy(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        kind="instance",
        name=instance,
        body=body,
    )


@router.delete("/instances/{instance}", status_code=204)
def delete_instance_policy(
    instance: ScopeName, context: ContextDep, user: AdminDep, actor: ActorDep
) -> Response:
    policies.delete_policy(
        context.engine, actor=actor, now=context.clock.now(), kind="instance", name=instance
    )
    return Response(status_code=204)


@router.get("/agents/{name}", response_model=PolicyPublic)
def read_agent_policy(
    name: ScopeName, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> PolicyPublic:
    with session_scope(context.engine) as session:
        return policies.read_policy(session, actor=actor, kind="agent", name=name)


@router.put("/agents/{name}", response_model=PolicyPublic)
def put_agent_policy(
    name: ScopeName, body: PolicyBody, context: ContextDep, user: AdminDep, actor: ActorDep
) -> PolicyPublic:
    return policies.put_policy(
        context.engine, actor=actor, now=context.clock.now(), kind="agent", name=name, body=body
    )


@router.delete("/agents/{name}", status_code=204)
def delete_agent_policy(
    name: ScopeName, context: ContextDep, user: AdminDep, actor: ActorDep
) -> Response:
    policies.delete_policy(
        context.engine, actor=actor, now=context.clock.now(), kind="agent", name=name
    )
    return Response(status_code=204)
