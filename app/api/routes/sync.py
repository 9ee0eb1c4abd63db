"""/sync: git sync sources (admin of every instance) and the webhook that pulls one now
(app/services/sync_sources.py, app/services/sync_pull.py)."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import ActorDep, AdminDep, ContextDep
from app.db.engine import session_scope
from app.models.definition_schemas import (
    SyncResult,
    SyncSourceCreate,
    SyncSourceCreated,
    SyncSourcePublic,
    SyncSourceUpdate,
)
from app.services import sync_pull, sync_sources

router = APIRouter(prefix="/sync", tags=["definitions"])


@router.get("", response_model=list[SyncSourcePublic])
def list_sources(context: ContextDep, user: AdminDep, actor: ActorDep) -> list[SyncSourcePublic]:
    with session_scope(context.engine) as session:
        return sync_sources.list_sources(session, actor=actor)


@router.post("", response_model=SyncSourceCreated, status_code=201)
def create(
    body: SyncSourceCreate, context: ContextDep, user: AdminDep, actor: ActorDep
) -> SyncSourceCreated:
    """The webhook secret is in this answer only; applies act as the creating admin."""
    return sync_sources.create_source(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        data_dir=context.settings.data_dir,
        body=body,
    )


@router.get("/{name}", response_model=SyncSourcePublic)
def read(name: str, context: ContextDep, user: AdminDep, actor: ActorDep) -> SyncSourcePublic:
    """The source and its status: last applied commit, when, by whom, the plan, errors."""
    with session_scope(context.engine) as session:
        return sync_sources.read_source(session, actor=actor, name=name)


@router.patch("/{name}", response_model=SyncSourcePublic)
def patch(
    name: str, body: SyncSourceUpdate, context: ContextDep, user: AdminDep, actor: ActorDep
) -> SyncSourcePublic:
    return sync_sources.update_source(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        data_dir=context.settings.data_dir,
        name=name,
        body=body,
    )


@router.delete("/{name}", status_code=204)
def delete(name: str, context: ContextDep, user: AdminDep, actor: ActorDep) -> Response:
    """The objects the source manages stay."""
    sync_sources.delete_source(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        data_dir=context.settings.data_dir,
        name=name,
    )
    return Response(status_code=204)


@router.post(
    "/{name}",
    response_model=SyncResult,
    responses={401: {"description": "No valid token or signature"}},
)
async def webhook(
    name: str,
    request: Request,
    context: ContextDep,
    x_almanac_sync_token: Annotated[str | None, Header()] = None,
    x_hub_signature_256: Annotated[str | None, Header()] = None,
) -> Response:
    """Pull now. Authenticated by the source's webhook secret, sent as `X-Almanac-Sync-Token`
    or as an HMAC-SHA256 signature of the body in `X-Hub-Signature-256` (GitHub, Gitea)."""
    body = await request.body()
    data_dir = context.settings.data_dir
    allowed = await anyio.to_thread.run_sync(
        lambda: sync_pull.webhook_allowed(
            context.engine, data_dir, name, x_almanac_sync_token, x_hub_signature_256, body
        )
    )
    if not allowed:
        return JSONResponse({"detail": "sync webhook: no valid token or signature"}, 401)
    result = await anyio.to_thread.run_sync(
        lambda: sync_pull.pull(
            context.engine, data_dir=data_dir, now=context.clock.now(), name=name, trigger="webhook"
        )
    )
    return JSONResponse(result.model_dump(mode="json"))
