"""group runs say why they were skipped; stored schedules' timezones made IANA names

`group_run.reason` (nullable): why a group run ended without running (a skip planning
recorded: calendar, DST, blackout; `frozen`; `missed: ...`). Existing rows keep NULL.

Schedules stored before timezones were checked may name a zone that is no longer accepted
(app/domain/_walltime.py `check_zone_name`). Each is replaced in every schedule, extra
schedule and blackout of tasks and groups, and in users' display timezones:
- `posix/X` and `right/X` -> `X` (the same zone's rules; `right/` only adds leap seconds,
  which civil clocks do not count);
- `posixrules` -> `America/New_York` (what tzdata's `posixrules` is);
- `localtime` -> the IANA zone this host's /etc/localtime names (the schedule followed the
  host; the server runs this migration on that host) when it names one;
- anything else (`Factory`, an unknown name) has no equivalent: the schedule's timezone is
  set to `UTC` and the task or group is **paused** (`active` false, its planned occurrences
  dropped) so nothing fires at a time nobody chose; a user's timezone becomes `UTC`.
Every change is an audit event (`schedule.timezone` or `schedule.paused`, actor `upgrade`)
naming the old zone, so operators see what happened and what to do.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
_NOT_ZONE_PREFIXES = ("posix/", "right/")
HOST_ZONE_LINK = "/etc/localtime"


@cache
def _iana() -> frozenset[str]:
    return frozenset(
        name
        for name in available_timezones()
        if name not in _NOT_ZONES and not name.startswith(_NOT_ZONE_PREFIXES)
    )


def host_zone(link: str = HOST_ZONE_LINK) -> str | None:
    """The IANA name /etc/localtime points at (`.../zoneinfo/Europe/Berlin`), if any."""
    target = os.path.realpath(link)
    _, found, name = target.partition("/zoneinfo/")
    return name if found and name in _iana() else None


def iana_equivalent(name: str, host: str | None) -> str | None:
    """The accepted name for a stored zone: itself, its IANA equivalent, or None."""
    if name in _iana():
        return name
    for prefix in _NOT_ZONE_PREFIXES:
        if name.startswith(prefix) and name[len(prefix) :] in _iana():
            return name[len(prefix) :]
    if name == "posixrules":
        return "America/New_York"
    if name == "localtime":
        return host
    return None


def _owner_table(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("id", sa.Integer),
        sa.column("schedule", sa.JSON),
        sa.column("schedules", sa.JSON),
        sa.column("blackouts", sa.JSON),
        sa.column("active", sa.Boolean),
        sa.column("instance", sa.String),
    )


_AUDIT = sa.table(
    "audit_event",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("target_kind", sa.String),
    sa.column("target_id", sa.String),
    sa.column("instance", sa.String),
    sa.column("before", sa.JSON),
    sa.column("after", sa.JSON),
    sa.column("detail", sa.String),
)


def _zones_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON objects of a task or group that carry a `timezone`."""
    found = [row["schedule"]] if isinstance(row["schedule"], dict) else []
    for key in ("schedules", "blackouts"):
        found += [item for item in row[key] or [] if isinstance(item, dict)]
    return [item for item in found if "timezone" in item]


def _repair_owners(bind: sa.Connection, name: str, kind: str, host: str | None) -> None:
    table = _owner_table(name)
    now = datetime.now(UTC)
    for raw in list(bind.execute(sa.select(table)).mappings()):
        row = {k: _json(v) for k, v in raw.items()}
        changed: dict[str, str | None] = {}
        for item in _zones_of(row):
            old = str(item["timezone"])
            new = iana_equivalent(old, host)
            if new != old:
                changed[old] = new
                item["timezone"] = new or "UTC"
        if not changed:
            continue
        paused = any(new is None for new in changed.values())
        values = {k: row[k] for k in ("schedule", "schedules", "blackouts")}
        if paused:
            values["active"] = False
        bind.execute(table.update().where(table.c.id == row["id"]).values(**values))
        if paused:
            _drop_planned(bind, kind, row["id"])
        words = ", ".join(f"{old!r} -> {new or 'UTC'!r}" for old, new in changed.items())
        detail = (
            f"paused by the upgrade: timezone {words}; it has no IANA equivalent. Set the "
            "zone the schedule means and enable it again."
            if paused
            else f"timezone replaced by its IANA name by the upgrade: {words}"
        )
        bind.execute(
            _AUDIT.insert().values(
                at=now.replace(tzinfo=None) if bind.dialect.name == "sqlite" else now,
                actor="upgrade",
                action="schedule.paused" if paused else "schedule.timezone",
                target_kind=kind,
                target_id=str(row["id"]),
                instance=row["instance"],
                before={"timezones": list(changed)},
                after={"timezones": [new or "UTC" for new in changed.values()]},
                detail=detail,
            )
        )


def _json(value: Any) -> Any:
    """JSON read through a plain text driver (SQLite stores it as text)."""
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


def _drop_planned(bind: sa.Connection, kind: str, owner: int) -> None:
    """A paused owner's planned occurrence must not fire."""
    if kind == "group":
        bind.execute(
            sa.text("DELETE FROM group_run WHERE group_id = :id AND status = 'IDLE'"), {"id": owner}
        )
        return
    idle = "SELECT id FROM run WHERE task_id = :id AND status = 'IDLE'"
    bind.execute(sa.text(f"DELETE FROM run_event WHERE run_id IN ({idle})"), {"id": owner})
    bind.execute(sa.text("DELETE FROM run WHERE task_id = :id AND status = 'IDLE'"), {"id": owner})


def upgrade() -> None:
    with op.batch_alter_table("group_run") as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=500), nullable=True))
    bind = op.get_bind()
    host = host_zone()
    _repair_owners(bind, "task", "task", host)
    _repair_owners(bind, "task_group", "group", host)
    for user_id, zone in list(bind.execute(sa.text("SELECT id, timezone FROM app_user"))):
        new = iana_equivalent(str(zone), host) or "UTC"
        if new != zone:
            bind.execute(
                sa.text("UPDATE app_user SET timezone = :zone WHERE id = :id"),
                {"zone": new, "id": user_id},
            )


def downgrade() -> None:
    # The zones stay as repaired (the old names were never valid); the reasons go.
    with op.batch_alter_table("group_run") as batch_op:
        batch_op.drop_column("reason")
