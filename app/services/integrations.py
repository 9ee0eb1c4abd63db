"""Alert channels (webhook, Slack, email). Admin only; the secret is stored encrypted and
never returned (`has_secret` says whether there is one).

An integration belongs to one instance (only that instance's alert rules send through it), or
is global (`instance` null: rules of every instance may use it). An admin sees and changes
the integrations of their instances; the global ones they may read, but only an admin of
every instance (`*`) creates, changes, tests or deletes them, since whoever redirects a
global channel would receive every instance's alerts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.alerts.schemas import (
    CONFIGS,
    IntegrationCreate,
    IntegrationPublic,
    IntegrationUpdate,
    TestResult,
)
from app.alerts.senders import Outgoing, SendError, send
from app.db.alert_tables import AlertRule
from app.db.engine import session_scope
from app.db.tables import Integration
from app.domain.error_words import plain_problem
from app.domain.roles import Role
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.secrets import decrypt_secret, encrypt_secret
from app.services.actor import Actor
from app.services.scope import InstanceScope


def public(row: Integration) -> IntegrationPublic:
    return IntegrationPublic(
        id=row.id or 0,
        name=row.name,
        kind=row.kind,
        config=row.config,
        has_secret=bool(row.secret_encrypted),
        created_at=row.created_at,
        instance=row.instance,
    )


def _config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    try:
        model = CONFIGS[kind].model_validate(config)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in ("config", *err.get("loc", ())))
        raise InvalidInput(field, plain_problem(err)) from None
    return model.model_dump(mode="json", by_alias=True)


def _get(session: Session, integration_id: int, scope: InstanceScope) -> Integration:
    row = session.get(Integration, integration_id)
    if row is None:
        raise NotFound("integration", integration_id)
    scope.check(row.instance, "integration", integration_id)
    return row


def _writable(session: Session, integration_id: int, scope: InstanceScope) -> Integration:
    """The row, when the caller may change (or send through) it."""
    row = _get(session, integration_id, scope)
    _require_owner(row.instance, scope)
    return row


def _require_owner(instance: str | None, scope: InstanceScope) -> None:
    if instance is None and not scope.everything:
        raise Forbidden("a global integration is changed only by an admin of every instance")
    if instance is not None:
        scope.require(instance)


def _unique(session: Session, name: str, own: int | None) -> None:
    clash = session.exec(select(Integration.id).where(Integration.name == name)).first()
    if clash is not None and clash != own:
        raise Conflict(f"name: an integration named {name!r} already exists")


def list_integrations(session: Session, *, actor: Actor) -> list[IntegrationPublic]:
    actor.require(Role.ADMIN)
    rows = session.exec(select(Integration).order_by(col(Integration.name))).all()
    return [public(r) for r in rows if actor.scope.allows(r.instance)]


def read_integration(session: Session, *, actor: Actor, integration_id: int) -> IntegrationPublic:
    actor.require(Role.ADMIN)
    return public(_get(session, integration_id, actor.scope))


def create_integration(
    engine: Engine, *, actor: Actor, now: datetime, data_dir: Path, body: IntegrationCreate
) -> IntegrationPublic:
    actor.require(Role.ADMIN)
    _require_owner(body.instance, actor.scope)
    config = _config(body.kind, body.config)
    secret = encrypt_secret(body.secret, data_dir) if body.secret else None
    with session_scope(engine) as session:
        _unique(session, body.name, None)
        row = Integration(
            name=body.name,
            kind=body.kind,
            config=config,
            secret_encrypted=secret,
            created_at=now,
            instance=body.instance,
        )
        session.add(row)
        session.flush()
        result = public(row)
        actor.audit(
            session,
            at=now,
            action="integration.create",
            target_kind="integration",
            target_id=row.id,
            after=result,
            instance=row.instance,
        )
    return result


def update_integration(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    data_dir: Path,
    integration_id: int,
    body: IntegrationUpdate,
) -> IntegrationPublic:
    actor.require(Role.ADMIN)
    with session_scope(engine) as session:
        row = _writable(session, integration_id, actor.scope)
        before = public(row)
        if body.name is not None:
            _unique(session, body.name, row.id)
            row.name = body.name
        if body.config is not None:
            row.config = _config(row.kind, body.config)
        if "secret" in body.model_fields_set:
            row.secret_encrypted = encrypt_secret(body.secret, data_dir) if body.secret else None
        session.flush()
        result = public(row)
        actor.audit(
            session,
            at=now,
            action="integration.update",
            target_kind="integration",
            target_id=row.id,
            before=before,
            after=result,
            detail="secret changed" if "secret" in body.model_fields_set else "",
            instance=row.instance,
        )
    return result


def delete_integration(engine: Engine, *, actor: Actor, now: datetime, integration_id: int) -> None:
    actor.require(Role.ADMIN)
    with session_scope(engine) as session:
        row = _writable(session, integration_id, actor.scope)
        rules = session.exec(
            select(AlertRule.id).where(AlertRule.integration_id == integration_id)
        ).all()
        if rules:
            raise Conflict(
                f"integration {row.name!r} is used by alert rules "
                f"{', '.join(str(r) for r in rules)}"
            )
        actor.audit(
            session,
            at=now,
            action="integration.delete",
            target_kind="integration",
            target_id=row.id,
            before=public(row),
            instance=row.instance,
        )
        session.delete(row)


def _test_message(engine: Engine, actor: Actor, data_dir: Path, integration_id: int) -> Outgoing:
    actor.require(Role.ADMIN)
    with session_scope(engine) as session:
        row = _writable(session, integration_id, actor.scope)
        secret = decrypt_secret(row.secret_encrypted, data_dir) if row.secret_encrypted else None
        text = f"Almanac: test message from integration {row.name!r}"
        return Outgoing(
            delivery_id=0,
            kind=row.kind,
            config=dict(row.config),
            secret=secret,
            payload={"event": "test", "text": text, "rule": None, "run": None},
        )


async def send_test(
    engine: Engine, *, actor: Actor, data_dir: Path, integration_id: int
) -> TestResult:
    """Send a test message now and say whether the channel took it."""
    outgoing = await anyio.to_thread.run_sync(
        _test_message, engine, actor, data_dir, integration_id
    )
    async with httpx.AsyncClient() as http:
        try:
            await send(http, outgoing)
        except SendError as exc:
            return TestResult(ok=False, error=str(exc))
    return TestResult(ok=True)
