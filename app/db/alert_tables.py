"""Alert rules and their deliveries (migration 0002). Same metadata as app.db.tables.

A rule watches one task or one group; it goes when its target is deleted (ON DELETE
CASCADE), so it never fires for a later object that reuses the id. A delivery is the log of
one alert: it keeps its run, rule and integration ids as plain numbers so that history
outlives what it refers to (planned runs, for one, are deleted and made again).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime


def _ts(*, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)


class AlertRule(SQLModel, table=True):
    __tablename__ = "alert_rule"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int | None = Field(default=None, foreign_key="task.id", ondelete="CASCADE", index=True)
    group_id: int | None = Field(
        default=None, foreign_key="task_group.id", ondelete="CASCADE", index=True
    )
    integration_id: int = Field(foreign_key="integration.id", index=True)
    # Event names (app.alerts.events): failed, succeeded, timeout, retries_exhausted, ...
    events: list[str] = Field(default_factory=list, sa_type=JSON)
    late_minutes: float | None = None
    active: bool = True
    instance: str = Field(default="default", max_length=100, index=True)
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime | None = _ts()


class AlertDelivery(SQLModel, table=True):
    """One alert to send (pending), sent, or given up on (failed) after its retries."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        UniqueConstraint("rule_id", "run_id", "attempt", "event", name="uq_alert_once"),
        Index("ix_alert_delivery_due", "status", "next_try_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int
    integration_id: int
    run_id: int | None = Field(default=None, index=True)
    attempt: int = 0
    event: str = Field(max_length=30)
    status: str = Field(default="pending", max_length=10)
    tries: int = 0
    next_try_at: datetime | None = _ts()
    # A sender holds a delivery until then (several server replicas share the table).
    claimed_until: datetime | None = _ts()
    last_error: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime | None = _ts()
    sent_at: datetime | None = _ts()
