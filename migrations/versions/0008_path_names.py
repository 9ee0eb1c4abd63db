"""calendars renamed when a URL path cannot carry their name

Names like `a/b`, `.` or `..` were accepted before 0007's rules and could then never be read
or deleted (`/calendars/{name}`). They get the nearest name a path carries (`a-b`,
`calendar-dot`, made unique), and every task and group schedule naming them follows.
Downgrading keeps the new names: the old ones were unreachable.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DOTS = {".": "calendar-dot", "..": "calendar-dotdot"}
_calendar = sa.table("calendar", sa.column("id", sa.Integer), sa.column("name", sa.String))


def _schedules(name: str) -> sa.TableClause:
    return sa.table(name, sa.column("id", sa.Integer), sa.column("schedule", sa.JSON))


def carried(name: str) -> bool:
    return name not in _DOTS and "/" not in name and "\\" not in name


def renamed(name: str, taken: set[str]) -> str:
    base = _DOTS.get(name) or name.replace("/", "-").replace("\\", "-")
    new, n = base, 2
    while new in taken:
        new, n = f"{base}-{n}", n + 1
    return new


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_calendar.c.id, _calendar.c.name)).all()
    taken = {name for _, name in rows}
    moved: dict[str, str] = {}
    for calendar_id, name in rows:
        if carried(name):
            continue
        new = renamed(name, taken)
        taken.add(new)
        moved[name] = new
        bind.execute(_calendar.update().where(_calendar.c.id == calendar_id).values(name=new))
    if not moved:
        return
    for table in ("task", "task_group"):
        schedules = _schedules(table)
        for row_id, schedule in bind.execute(sa.select(schedules.c.id, schedules.c.schedule)):
            if isinstance(schedule, dict) and schedule.get("calendar") in moved:
                changed = {**schedule, "calendar": moved[schedule["calendar"]]}
                bind.execute(
                    schedules.update().where(schedules.c.id == row_id).values(schedule=changed)
                )


def downgrade() -> None:
    pass  # the old names could be neither read nor deleted: there is nothing to go back to
