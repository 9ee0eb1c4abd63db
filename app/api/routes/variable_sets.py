"""/variable-sets: named variables and secrets per instance (app/services/variable_sets.py).
`?instance=` picks the instance when a name is used in several of the caller's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import ActorDep, AdminDep, ContextDep, UserDep
from app.db.engine import session_scope
from app.models.variable_set_schemas import (
    VariableSetCreate,
    VariableSetPublic,
    VariableSetUpdate,
)
from app.services import variable_sets

router = APIRouter(prefix="/variable-sets", tags=["variable sets"])

InstanceQuery = Annotated[str | None, Query(max_length=100)]


@router.get("", response_model=list[VariableSetPublic])
def list_sets(
    context: ContextDep, user: UserDep, actor: ActorDep, instance: InstanceQuery = None
) -> list[VariableSetPublic]:
    with session_scope(context.engine) as session:
        return variable_sets.list_sets(session, actor=actor, instance=instance)


@router.post("", response_model=VariableSetPublic, status_code=201)
def create_set(
    body: VariableSetCreate, context: ContextDep, user: AdminDep, actor: ActorDep
) -> VariableSetPublic:
    return variable_sets.create_set(context.engine, actor=actor, now=context.clock.now(), body=body)


@router.get("/{name}", response_model=VariableSetPublic)
def read_set(
    name: str, context: ContextDep, user: UserDep, actor: ActorDep, instance: InstanceQuery = None
) -> VariableSetPublic:
    with session_scope(context.engine) as session:
        return variable_sets.read_set(session, actor=actor, name=name, instance=instance)


@router.patch("/{name}", response_model=VariableSetPublic)
def update_set(
    name: str,
    body: VariableSetUpdate,
    context: ContextDep,
    user: AdminDep,
    actor: ActorDep,
    instance: InstanceQuery = None,
) -> VariableSetPublic:
    return variable_sets.update_set(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        name=name,
        body=body,
        instance=instance,
    )


@router.delete("/{name}", status_code=204)
def delete_set(
    name: str,
    context: ContextDep,
    user: AdminDep,
    actor: ActorDep,
    instance: InstanceQuery = None,
) -> Response:
    variable_sets.delete_set(
        context.engine, actor=actor, now=context.clock.now(), name=name, instance=instance
    )
    return Response(status_code=204)
