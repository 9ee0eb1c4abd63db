"""The audit log: who changed what, when, from where, with the values before and after.

Call `record_audit` inside the transaction that makes the change, so a change and its audit
row commit (or roll back) together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from app.clock import SystemClock
from app.db.tables import AuditEvent

_MAX_SOURCE = 100


def snapshot(value: BaseModel | dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-ready copy of a public model (or dict) for `before` / `after`."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return dict(value)


def record_audit(
    session: Session,
    *,
    actor: str | None,
    action: str,
    target_kind: str,
    target_id: object,
    before: BaseModel | dict[str, Any] | None,
    after: BaseModel | dict[str, Any] | None,
    source: str | None,
    instance: str | None,
    detail: str = "",
    at: datetime | None = None,
) -> AuditEvent:
    """One audit row, e.g. action="task.update", target_kind="task", target_id=tid.

    `before`/`after` are public models or dicts (never secrets); `source` is the client IP;
    `instance` is the instance of the target (None for global objects: users, calendars).
    Pass `at` from the app's clock where there is one.
    """
    event = AuditEvent(
        at=at or SystemClock().now(),
        actor=actor,
        action=action[:50],
        target_kind=target_kind[:30],
        target_id=None if target_id is None else str(target_id)[:200],
        instance=instance,
        source=source[:_MAX_SOURCE] if source else None,
        before=snapshot(before),
        after=snapshot(after),
        detail=detail,
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None  # exact, or a prefix when it ends with "*" ("task.*")
    target_kind: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # None: every instance and the global events (instance NULL); else only these instances
    # (global events, such as accounts, calendars and agent tokens, are for admins of all).
    instances: Sequence[str] | None = None


def query_audit(
    session: Session, where: AuditFilter, *, offset: int, limit: int
) -> Sequence[AuditEvent]:
    """Newest first."""
    stmt = select(AuditEvent).order_by(col(AuditEvent.id).desc())
    if where.actor is not None:
        stmt = stmt.where(AuditEvent.actor == where.actor)
    if where.action is not None:
        if where.action.endswith("*"):
            stmt = stmt.where(col(AuditEvent.action).startswith(where.action[:-1], autoescape=True))
        else:
            stmt = stmt.where(AuditEvent.action == where.action)
    if where.target_kind is not None:
        stmt = stmt.where(AuditEvent.target_kind == where.target_kind)
    if where.target_id is not None:
        stmt = stmt.where(AuditEvent.target_id == where.target_id)
    if where.since is not None:
        stmt = stmt.where(col(AuditEvent.at) >= where.since)
    if where.until is not None:
        stmt = stmt.where(col(AuditEvent.at) < where.until)
    if where.instances is not None:
        stmt = stmt.where(col(AuditEvent.instance).in_(list(where.instances)))
    return session.exec(stmt.offset(offset).limit(limit)).all()
