"""Writing a checked definitions plan in the caller's transaction: the import's writer, then
who manages each object the files hold (source, file, and the commit that last changed it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from app.db.tables import Calendar, Task, TaskGroup
from app.definitions.planner import DefinitionsPlan
from app.io.apply import Applied, apply_plan
from app.io.snapshot import Key
from app.models.io_schemas import Kind


def write_plan(session: Session, plan: DefinitionsPlan, *, now: datetime) -> Applied:
    applied = apply_plan(session, plan.plan, now=now)
    _mark_managed(session, plan)
    return applied


def _touched(plan: DefinitionsPlan, kind: Kind) -> set[Key]:
    d = plan.diff
    return {
        *d.create.get(kind, []),
        *d.update.get(kind, {}),
        *(key for k, key in plan.adopted if k == kind),
    }


def _mark_managed(session: Session, plan: DefinitionsPlan) -> None:
    """Rows whose owner or file moved are rewritten; the commit moves only with a change, so a
    second apply of the same files writes nothing. One UPDATE per file and kind."""
    for kind in ("calendar", "group", "task"):
        touched = _touched(plan, kind)
        batches: dict[tuple[str, str, bool], list[Key]] = {}
        for key in sorted(plan.bundle.content.snapshot.of(kind)):
            holder = plan.bundle.holders[(kind, key)]
            before = plan.owners.get((kind, key), (None, None))
            if key not in touched and before == (plan.source, holder):
                continue
            instance = "" if kind == "calendar" else key[0]
            batches.setdefault((instance, holder, key in touched), []).append(key)
        for (instance, holder, changed), keys in batches.items():
            values: dict[str, str | None] = {"managed_by": plan.source, "managed_file": holder}
            if changed:
                values["managed_commit"] = plan.commit
            for start in range(0, len(keys), _CHUNK):
                names = [key[-1] for key in keys[start : start + _CHUNK]]
                session.exec(_statement(kind, instance, names).values(**values))
    session.flush()


_CHUNK = 500  # names per UPDATE (well under any backend's parameter limit)


def _statement(kind: str, instance: str, names: list[str]) -> Any:
    if kind == "calendar":
        return update(Calendar).where(col(Calendar.name).in_(names))
    table = TaskGroup if kind == "group" else Task
    return update(table).where(col(table.instance) == instance, col(table.name).in_(names))
