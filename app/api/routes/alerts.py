"""/alerts: rules on a task's or a group's runs; /runs/{id}/alerts: what was sent about a run
(app/services/alerts.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.alerts.schemas import (
    AlertRuleCreate,
    AlertRulePublic,
    AlertRuleUpdate,
    DeliveryPublic,
)
from app.api.deps import ActorDep, ContextDep, OperatorDep, UserDep
from app.db.engine import session_scope
from app.services import alerts

router = APIRouter(tags=["alerts"])


@router.get("/alerts", response_model=list[AlertRulePublic])
def list_rules(
    context: ContextDep,
    user: UserDep,
    actor: ActorDep,
    task: int | None = None,
    group: int | None = None,
) -> list[AlertRulePublic]:
    with session_scope(context.engine) as session:
        return alerts.list_rules(session, actor=actor, task=task, group=group)


@router.post("/alerts", response_model=AlertRulePublic, status_code=201)
def create_rule(
    body: AlertRuleCreate, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> AlertRulePublic:
    return alerts.create_rule(context.engine, actor=actor, now=context.clock.now(), body=body)


@router.get("/alerts/{rule_id}", response_model=AlertRulePublic)
def read_rule(rule_id: int, context: ContextDep, user: UserDep, actor: ActorDep) -> AlertRulePublic:
    with session_scope(context.engine) as session:
        return alerts.read_rule(session, actor=actor, rule_id=rule_id)


@router.patch("/alerts/{rule_id}", response_model=AlertRulePublic)
def update_rule(
    rule_id: int, body: AlertRuleUpdate, context: ContextDep, user: OperatorDep, actor: ActorDep
) -> AlertRulePublic:
    return alerts.update_rule(
        context.engine, actor=actor, now=context.clock.now(), rule_id=rule_id, body=body
    )


@router.delete("/alerts/{rule_id}", status_code=204)
def delete_rule(rule_id: int, context: ContextDep, user: OperatorDep, actor: ActorDep) -> Response:
    alerts.delete_rule(context.engine, actor=actor, now=context.clock.now(), rule_id=rule_id)
    return Response(status_code=204)


@router.get("/runs/{run_id}/alerts", response_model=list[DeliveryPublic])
def run_alerts(
    run_id: int, context: ContextDep, user: UserDep, actor: ActorDep
) -> list[DeliveryPublic]:
    """Every alert about the run: pending (with its next try), sent, or given up."""
    with session_scope(context.engine) as session:
        return alerts.run_alerts(session, actor=actor, run_id=run_id)
