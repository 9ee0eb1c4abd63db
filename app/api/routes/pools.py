"""/pools and /quotas: admission limits (app/services/pools.py, app/services/quotas.py).
A pool is named within its instance: `?instance=` picks one where the name is not unique."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import ActorDep, AdminDep, ContextDep, UserDep
from app.db.engine import session_scope
from app.models.admission_schemas import (
    PoolCreate,
    PoolPublic,
    PoolUpdate,
    QuotaBody,
    QuotaPublic,
)
from app.services import pools, quotas

router = APIRouter(tags=["pools"])
InstanceQuery = Annotated[str | None, Query(max_length=100)]


@router.get("/pools", response_model=list[PoolPublic])
def list_pools(
    context: ContextDep, user: UserDep, actor: ActorDep, instance: InstanceQuery = None
) -> list[PoolPublic]:
    with session_scope(context.engine) as session:
        return pools.list_pools(session, actor=actor, instance=instance)


@router.post("/pools", response_model=PoolPublic, status_code=201)
def create_pool(
    body: PoolCreate, context: ContextDep, user: AdminDep, actor: ActorDep
) -> PoolPublic:
    return pools.create_pool(context.engine, actor=actor, now=context.clock.now(), body=body)


@router.get("/pools/{name}", response_model=PoolPublic)
def read_pool(
    name: str, context: ContextDep, user: UserDep, actor: ActorDep, instance: InstanceQuery = None
) -> PoolPublic:
    """With `used`, the runs holding slots and the runs queued, in queue order."""
    with session_scope(context.engine) as session:
        return pools.read_pool(session, actor=actor, name=name, instance=instance)


@router.patch("/pools/{name}", response_model=PoolPublic)
def update_pool(
    name: str,
    body: PoolUpdate,
    context: ContextDep,
    user: AdminDep,
    actor: ActorDep,
    instance: InstanceQuery = None,
) -> PoolPublic:
    return pools.update_pool(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        name=name,
        body=body,
        instance=instance,
    )


@router.delete("/pools/{name}", status_code=204)
def delete_pool(
    name: str, context: ContextDep, user: AdminDep, actor: ActorDep, instance: InstanceQuery = None
) -> Response:
    pools.delete_pool(
        context.engine, actor=actor, now=context.clock.now(), name=name, instance=instance
    )
    return Response(status_code=204)


@router.get("/quotas", response_model=list[QuotaPublic])
def list_quotas(context: ContextDep, user: UserDep, actor: ActorDep) -> list[QuotaPublic]:
    with session_scope(context.engine) as session:
        return quotas.list_quotas(session, actor=actor)


@router.get("/quotas/{instance}", response_model=QuotaPublic)
def read_quota(instance: str, context: ContextDep, user: UserDep, actor: ActorDep) -> QuotaPublic:
    with session_scope(context.engine) as session:
        return quotas.read_quota(session, actor=actor, instance=instance)


@router.put("/quotas/{instance}", response_model=QuotaPublic)
def set_quota(
    instance: str, body: QuotaBody, context: ContextDep, user: AdminDep, actor: ActorDep
) -> QuotaPublic:
    return quotas.set_quota(
        context.engine, actor=actor, now=context.clock.now(), instance=instance, body=body
    )


@router.delete("/quotas/{instance}", status_code=204)
def delete_quota(instance: str, context: ContextDep, user: AdminDep, actor: ActorDep) -> Response:
    quotas.delete_quota(context.engine, actor=actor, now=context.clock.now(), instance=instance)
    return Response(status_code=204)
