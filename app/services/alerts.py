"""Alert rules on a task's or a group's runs, and what was sent about a run.

Operators write rules (an admin sets up the integrations they send through); anyone who can
see the task or group can read them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.alerts.schemas import (
    AlertRuleCreate,
    AlertRulePublic,
    AlertRuleUpdate,
    DeliveryPublic,
)
from app.db.alert_tables import AlertDelivery, AlertRule
from app.db.engine import session_scope
from app.db.runs import get_run
from app.db.tables import Integration, Task, TaskGroup
from app.domain.roles import Role
from app.errors import InvalidInput, NotFound
from app.services.actor import Actor
from app.services.scope import InstanceScope


def _public(session: Session, rule: AlertRule) -> AlertRulePublic:
    target = (
        session.get(Task, rule.task_id)
        if rule.task_id is not None
        else session.get(TaskGroup, rule.group_id)
    )
    integration = session.get(Integration, rule.integration_id)
    return AlertRulePublic(
        id=rule.id or 0,
        task=rule.task_id,
        group=rule.group_id,
        target_name=target.name if target is not None else None,
        events=list(rule.events),
        integration=rule.integration_id,
        integration_name=integration.name if integration is not None else None,
        late_minutes=rule.late_minutes,
        active=rule.active,
        instance=rule.instance,
        created_by=rule.created_by,
        created_at=rule.created_at,
    )


def _target_instance(
    session: Session, scope: InstanceScope, task: int | None, group: int | None
) -> str:
    row = session.get(Task, task) if task is not None else session.get(TaskGroup, group)
    field, key = ("task", task) if task is not None else ("group", group)
    if row is None or not scope.allows(row.instance):
        raise InvalidInput(field, f"no {field} with id {key}")
    return row.instance


def _integration(session: Session, integration_id: int, instance: str) -> None:
    """A rule sends only through a global integration or one of its own instance."""
    row = session.get(Integration, integration_id)
    if row is None or row.instance not in (None, instance):
        raise InvalidInput(
            "integration", f"no integration with id {integration_id} in instance {instance!r}"
        )


def _rule(session: Session, rule_id: int, scope: InstanceScope) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None or not scope.allows(rule.instance):
        raise NotFound("alert rule", rule_id)
    return rule


def list_rules(
    session: Session, *, actor: Actor, task: int | None = None, group: int | None = None
) -> list[AlertRulePublic]:
    stmt = actor.scope.filter(select(AlertRule).order_by(col(AlertRule.id)), AlertRule.instance)
    if task is not None:
        stmt = stmt.where(AlertRule.task_id == task)
    if group is not None:
        stmt = stmt.where(AlertRule.group_id == group)
    return [_public(session, r) for r in session.exec(stmt).all()]


def read_rule(session: Session, *, actor: Actor, rule_id: int) -> AlertRulePublic:
    return _public(session, _rule(session, rule_id, actor.scope))


def create_rule(
    engine: Engine, *, actor: Actor, now: datetime, body: AlertRuleCreate
) -> AlertRulePublic:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        instance = _target_instance(session, actor.scope, body.task, body.group)
        _integration(session, body.integration, instance)
        rule = AlertRule(
            task_id=body.task,
            group_id=body.group,
            integration_id=body.integration,
            events=[e.value for e in body.events],
            late_minutes=body.late_minutes,
            active=body.active,
            instance=instance,
            created_by=actor.username,
            created_at=now,
        )
        session.add(rule)
        session.flush()
        result = _public(session, rule)
        actor.audit(
            session,
            at=now,
            action="alert.create",
            target_kind="alert_rule",
            target_id=rule.id,
            after=result,
            instance=instance,
        )
    return result


def update_rule(
    engine: Engine, *, actor: Actor, now: datetime, rule_id: int, body: AlertRuleUpdate
) -> AlertRulePublic:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        rule = _rule(session, rule_id, actor.scope)
        before = _public(session, rule)
        fields = body.model_fields_set
        if body.events is not None:
            rule.events = [e.value for e in body.events]
        if body.integration is not None:
            _integration(session, body.integration, rule.instance)
            rule.integration_id = body.integration
        if "late_minutes" in fields:
            rule.late_minutes = body.late_minutes
        if body.active is not None:
            rule.active = body.active
        if "late_start" in rule.events and rule.late_minutes is None:
            raise InvalidInput("late_minutes", "required with the late_start event")
        session.flush()
        result = _public(session, rule)
        actor.audit(
            session,
            at=now,
            action="alert.update",
            target_kind="alert_rule",
            target_id=rule_id,
            before=before,
            after=result,
            instance=rule.instance,
        )
    return result


def delete_rule(engine: Engine, *, actor: Actor, now: datetime, rule_id: int) -> None:
    actor.require(Role.OPERATOR)
    with session_scope(engine) as session:
        rule = _rule(session, rule_id, actor.scope)
        actor.audit(
            session,
            at=now,
            action="alert.delete",
            target_kind="alert_rule",
            target_id=rule_id,
            before=_public(session, rule),
            instance=rule.instance,
        )
        session.delete(rule)


def run_alerts(session: Session, *, actor: Actor, run_id: int) -> list[DeliveryPublic]:
    """Every alert about the run: pending (with its next try), sent, or given up."""
    run = get_run(session, run_id)
    actor.scope.check(run.instance, "run", run_id)
    rows = session.exec(
        select(AlertDelivery).where(AlertDelivery.run_id == run_id).order_by(col(AlertDelivery.id))
    ).all()
    names = {i.id: i.name for i in session.exec(select(Integration)).all()}
    return [
        DeliveryPublic(
            id=d.id or 0,
            rule=d.rule_id,
            integration=d.integration_id,
            integration_name=names.get(d.integration_id),
            run=d.run_id,
            attempt=d.attempt,
            event=d.event,
            status=d.status,
            tries=d.tries,
            last_error=d.last_error,
            text=d.payload.get("text"),
            next_try_at=d.next_try_at,
            created_at=d.created_at,
            sent_at=d.sent_at,
        )
        for d in rows
    ]
