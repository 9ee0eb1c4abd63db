"""Writing a checked definitions plan in the caller's transaction: the import's writer, then
who manages each object the files hold (source, file, and the commit that last changed it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
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
    session.flush()  # the objects made by the import have their keys in the session
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
        loaded = _loaded(session, kind) if batches else {}
        for (instance, holder, changed), keys in batches.items():
            values: dict[str, str | None] = {"managed_by": plan.source, "managed_file": holder}
            if changed:
                values["managed_commit"] = plan.commit
            for start in range(0, len(keys), _CHUNK):
                names = [key[-1] for key in keys[start : start + _CHUNK]]
                statement = _statement(kind, instance, names).values(**values)
                # Without the session's own synchronisation, which evaluates the WHERE on
                # every object it holds for each UPDATE (200 x 5,100 for 5,000 tasks): the
                # rows it holds get the values below, from one look-up by name.
                session.exec(statement.execution_options(synchronize_session=False))
            for key in keys:
                _set_loaded(loaded, key, values)
    session.flush()


_CHUNK = 500  # names per UPDATE (well under any backend's parameter limit)


def _statement(kind: str, instance: str, names: list[str]) -> Any:
    if kind == "calendar":
        return update(Calendar).where(col(Calendar.name).in_(names))
    table = TaskGroup if kind == "group" else Task
    return update(table).where(col(table.instance) == instance, col(table.name).in_(names))


_MODELS: dict[str, type[Calendar | TaskGroup | Task]] = {
    "calendar": Calendar,
    "group": TaskGroup,
    "task": Task,
}
_MARKS = ("managed_by", "managed_file", "managed_commit")


def _loaded(session: Session, kind: str) -> dict[Key, list[Any]]:
    """The objects of this kind the session holds, by key. One whose key columns are expired
    could be any of them: it forgets its marks now and reads them again if asked."""
    naming = ("name",) if kind == "calendar" else ("instance", "name")
    found: dict[Key, list[Any]] = {}
    for state in session.identity_map.all_states():
        obj = state.obj()
        if obj is None or state.mapper.class_ is not _MODELS[kind]:
            continue
        if all(name in state.dict for name in naming):
            found.setdefault(tuple(state.dict[name] for name in naming), []).append(obj)
        else:
            session.expire(obj, list(_MARKS))
    return found


def _set_loaded(loaded: dict[Key, list[Any]], key: Key, values: dict[str, str | None]) -> None:
    """What the UPDATE wrote, on the objects the session holds, as their loaded state (not
    a change to flush): what the session's own synchronisation would have done."""
    for obj in loaded.get(key, []):
        for name, value in values.items():
            set_committed_value(obj, name, value)
