"""A task's or a group's runs by business date over a year: one grouped query for the
outcomes (with the ledger's reason on skipped dates), one for the frozen dates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from app.db.tables import Freeze, GroupRun, Run
from app.domain.heat_map import Day, first_day, year_of_days
from app.services.actor import Actor
from app.services.groups import visible_group
from app.services.tasks import visible_task

MISSED_REASON = "missed: no scheduler was up within the grace period"


@dataclass(frozen=True, kw_only=True)
class HeatMap:
    kind: str  # "task" or "group"
    key: int
    name: str
    instance: str
    end: date
    weeks: list[list[Day]]

    @property
    def previous_end(self) -> date:
        """The last date of the year shown before this one."""
        return self.weeks[0][0].day - timedelta(days=1)

    @property
    def totals(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for week in self.weeks:
            for day in week:
                if day.day > self.end:
                    continue  # the rest of the last week has not come yet
                found[day.outcome] = found.get(day.outcome, 0) + 1
        return found


def _today(schedule: Mapping[str, object] | None, now: datetime) -> date:
    try:
        zone = ZoneInfo(str((schedule or {}).get("timezone") or "UTC"))
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def _frozen(
    session: Session, first: date, end: date, *owners: ColumnElement[bool]
) -> dict[date, str]:
    rows = session.exec(
        select(col(Freeze.day), col(Freeze.reason)).where(
            col(Freeze.day) >= first, col(Freeze.day) <= end, *owners
        )
    ).all()
    return dict(rows)


def task_heat_map(
    session: Session, *, actor: Actor, tid: int, now: datetime, end: date | None = None
) -> HeatMap:
    task = visible_task(session, actor.scope, tid)
    last = end or _today(task.schedule, now)
    first = first_day(last)
    stmt = (
        select(col(Run.business_date), col(Run.status), func.count(), func.min(Run.reason))
        .where(
            Run.task_id == tid,
            col(Run.business_date) >= first,
            col(Run.business_date) <= last,
            actor.scope.condition(Run.instance),
        )
        .group_by(col(Run.business_date), col(Run.status))
    )
    counts: dict[date, dict[str, int]] = {}
    reasons: dict[date, str] = {}
    for day, status, count, reason in session.exec(stmt).all():
        if day is None:
            continue
        counts.setdefault(day, {})[str(status)] = int(count)
        if str(status) == "SKIPPED" and reason:
            reasons[day] = str(reason)
    owner = col(Freeze.task_id) == tid
    if task.group_id is not None:
        owner = owner | (col(Freeze.group_id) == task.group_id)
    frozen = _frozen(session, first, last, owner)
    return HeatMap(
        kind="task",
        key=tid,
        name=task.name,
        instance=task.instance,
        end=last,
        weeks=year_of_days(last, counts, reasons, frozen),
    )


def group_heat_map(
    session: Session, *, actor: Actor, gid: int, now: datetime, end: date | None = None
) -> HeatMap:
    group = visible_group(session, actor.scope, gid)
    last = end or _today(group.schedule, now)
    first = first_day(last)
    stmt = (
        select(col(GroupRun.business_date), col(GroupRun.status), func.count())
        .where(
            GroupRun.group_id == gid,
            col(GroupRun.business_date) >= first,
            col(GroupRun.business_date) <= last,
            actor.scope.condition(GroupRun.instance),
        )
        .group_by(col(GroupRun.business_date), col(GroupRun.status))
    )
    counts: dict[date, dict[str, int]] = {}
    reasons: dict[date, str] = {}
    for day, status, count in session.exec(stmt).all():
        if day is None:
            continue
        counts.setdefault(day, {})[str(status)] = int(count)
        if str(status) == "MISSED":
            reasons[day] = MISSED_REASON
    frozen = _frozen(session, first, last, col(Freeze.group_id) == gid)
    for day, reason in frozen.items():  # a frozen group run says why on its date
        if "SKIPPED" in counts.get(day, {}):
            reasons[day] = f"frozen{': ' + reason if reason else ''}"
    return HeatMap(
        kind="group",
        key=gid,
        name=group.name,
        instance=group.instance,
        end=last,
        weeks=year_of_days(last, counts, reasons, frozen),
    )
