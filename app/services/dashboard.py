"""The dashboard's figures in the caller's instances: runs per status over the last day,
runs per hour by status, and the next task and group runs due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from app.db.tables import GroupRun, Run, TaskGroup
from app.domain.group_run_states import GroupRunStatus
from app.domain.states import RunStatus
from app.models.schemas import RunPublic
from app.services.actor import Actor
from app.services.runs_view import run_public

CARD_STATUSES = (
    "IDLE",
    "ACTIVE",
    "TRIGGER",
    "STARTED",
    "RUNNING",
    "SUCCESS",
    "FAILED",
    "TERMINATED",
)
HOURS = 24


@dataclass(frozen=True, kw_only=True)
class DueGroup:
    """A group's next planned run (its tasks' runs are made when it starts)."""

    gid: int
    name: str
    trigger_time: datetime


@dataclass(frozen=True, kw_only=True)
class Figures:
    counts: dict[str, int]  # CARD_STATUSES over the last day (IDLE: all planned)
    hour_starts: list[datetime]  # the UTC hours counted, oldest first
    per_hour: dict[str, list[int]]  # status → count per hour
    next_due: list[RunPublic]
    next_groups: list[DueGroup]


def _hour(session: Session) -> ColumnElement[Any]:
    """The trigger time's UTC hour: cheap per row (the last day may hold 300,000 runs)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", col(Run.trigger_time))  # keyed in Python
    return func.substr(col(Run.trigger_time), 1, 13)  # stored as "YYYY-MM-DD HH:MM:SS..."


def _hour_key(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H")
    return str(value)


def figures(session: Session, *, actor: Actor, now: datetime) -> Figures:
    since = now - timedelta(hours=HOURS)
    start = (now - timedelta(hours=HOURS - 1)).replace(minute=0, second=0, microsecond=0)
    keys = [(start + timedelta(hours=i)).strftime("%Y-%m-%d %H") for i in range(HOURS)]
    bucket = _hour(session)
    scope = actor.scope.condition(Run.instance)
    # Statuses named: each is one range of the (status, trigger_time) index, counted
    # without reading a run (a database may otherwise walk the whole index in status order).
    counted = [s for s in CARD_STATUSES if s != "IDLE"]
    counts = dict(
        session.exec(
            select(Run.status, func.count())
            .where(col(Run.status).in_(counted), col(Run.trigger_time) >= since, scope)
            .group_by(col(Run.status))
        ).all()
    )
    counts["IDLE"] = int(
        session.exec(select(func.count()).select_from(Run).where(Run.status == "IDLE", scope)).one()
    )
    rows = session.exec(
        select(bucket, Run.status, func.count())
        .where(
            col(Run.status).in_(list(RunStatus)),
            col(Run.trigger_time) >= start,
            col(Run.trigger_time) <= now,
            scope,
        )
        .group_by(bucket, col(Run.status))
    ).all()
    due = session.exec(
        select(Run).where(Run.status == "IDLE", scope).order_by(col(Run.trigger_time)).limit(8)
    ).all()
    per_hour: dict[str, list[int]] = {}
    index = {k: i for i, k in enumerate(keys)}
    for hour, status, count in rows:
        key = _hour_key(hour)
        if key in index:
            per_hour.setdefault(str(status), [0] * HOURS)[index[key]] += int(count)
    groups_due = session.exec(
        select(GroupRun.group_id, TaskGroup.name, GroupRun.trigger_time)
        .join(TaskGroup, col(TaskGroup.id) == col(GroupRun.group_id))
        .where(GroupRun.status == GroupRunStatus.IDLE, actor.scope.condition(GroupRun.instance))
        .order_by(col(GroupRun.trigger_time))
        .limit(8)
    ).all()
    return Figures(
        counts={s: int(counts.get(s, 0)) for s in CARD_STATUSES},
        hour_starts=[start + timedelta(hours=i) for i in range(HOURS)],
        per_hour=per_hour,
        next_due=[run_public(r) for r in due],
        next_groups=[
            DueGroup(gid=gid, name=name, trigger_time=at) for gid, name, at in groups_due if at
        ],
    )
