"""/integrations: alert channels (webhook, Slack, email), admin only
(app/services/integrations.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.alerts.schemas import IntegrationCreate, IntegrationPublic, IntegrationUpdate, TestResult
from app.api.deps import ActorDep, AdminDep, ContextDep
from app.db.engine import session_scope
from app.services import integrations

router = APIRouter(prefix="/integrations", tags=["alerts"])


@router.get("", response_model=list[IntegrationPublic])
def list_integrations(
    context: ContextDep, user: AdminDep, actor: ActorDep
) -> list[IntegrationPublic]:
    with session_scope(context.engine) as session:
        return integrations.list_integrations(session, actor=actor)


@router.post("", response_model=IntegrationPublic, status_code=201)
def create(
    body: IntegrationCreate, context: ContextDep, user: AdminDep, actor: ActorDep
) -> IntegrationPublic:
    return integrations.create_integration(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        data_dir=context.settings.data_dir,
        body=body,
    )


@router.get("/{integration_id}", response_model=IntegrationPublic)
def read(
    integration_id: int, context: ContextDep, user: AdminDep, actor: ActorDep
) -> IntegrationPublic:
    with session_scope(context.engine) as session:
        return integrations.read_integration(session, actor=actor, integration_id=integration_id)


@router.patch("/{integration_id}", response_model=IntegrationPublic)
def patch(
    integration_id: int,
    body: IntegrationUpdate,
    context: ContextDep,
    user: AdminDep,
    actor: ActorDep,
) -> IntegrationPublic:
    return integrations.update_integration(
        context.engine,
        actor=actor,
        now=context.clock.now(),
        data_dir=context.settings.data_dir,
        integration_id=integration_id,
        body=body,
    )


@router.delete("/{integration_id}", status_code=204)
def delete(integration_id: int, context: ContextDep, user: AdminDep, actor: ActorDep) -> Response:
    integrations.delete_integration(
        context.engine, actor=actor, now=context.clock.now(), integration_id=integration_id
    )
    return Response(status_code=204)


@router.post("/{integration_id}/test", response_model=TestResult)
async def test(
    integration_id: int, context: ContextDep, user: AdminDep, actor: ActorDep
) -> TestResult:
    """Send a test message now and say whether the channel took it."""
    return await integrations.send_test(
        context.engine,
        actor=actor,
        data_dir=context.settings.data_dir,
        integration_id=integration_id,
    )
