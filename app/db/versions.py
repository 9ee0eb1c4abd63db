"""The history recorder: every committed change to a task, group, dependency set or calendar
becomes a definition version, whichever code path made it.

It watches the session, not the services: `before_flush` notes which definitions a flush
touches (rows added, changed in a definition column, deleted; edges and group dependencies
count for the task and group that own them), bulk UPDATE/DELETE statements on those tables
are looked at before they run, and just before the commit each touched object's definition
is read back (the export item, app/io/definition_items.py) and compared with its latest
version: a difference is a new version. A save that changes nothing records nothing, and
the timers' own columns (next fire time, updated at) never count.

Who, when and from where come from the transaction's `Acting` (bound by `Actor.audit`, so
the unit of work of every service carries it); a write nobody claimed is recorded as the
system's. Installed once per process by `make_engine`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Delete, Update, event, insert, inspect
from sqlalchemy import select as sa_select
from sqlalchemy.orm import ORMExecuteState, SessionTransaction
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import col

from app.db.tables import Calendar, DependencyEdge, GroupDependency, Task, TaskGroup
from app.db.version_reads import Definitions
from app.db.version_tables import DefinitionVersion

Key = tuple[str, int]  # ("task" | "group" | "calendar", id)

_TOUCHED = "history_touched"
_CREATED = "history_created"
_ACTING = "history_acting"
_ROLLBACKS = "history_rollbacks"
_KINDS: dict[type, str] = {Task: "task", TaskGroup: "group", Calendar: "calendar"}
# Columns that are not the definition: the scheduler's and the recorder's own.
_NOT_DEFINITION = frozenset({"id", "version", "next_fire_time", "created_at", "updated_at"})
# Bulk statements on these tables: which kinds the columns read before them name.
_BULK_PICKS: dict[str, tuple[tuple[str, ...], tuple[Any, ...]]] = {
    "dependency_edge": (
        ("group", "task"),
        (col(DependencyEdge.group_id), col(DependencyEdge.downstream_id)),
    ),
    "group_dependency": (("group",), (col(GroupDependency.group_id),)),
    "task": (("task",), (col(Task.id),)),
    "task_group": (("group",), (col(TaskGroup.id),)),
    "calendar": (("calendar",), (col(Calendar.id),)),
}
_installed = False
_lock = threading.Lock()


@dataclass(frozen=True)
class Acting:
    """Who makes the transaction's changes, when, and through what (ui, api, cli, ...)."""

    actor: str | None
    via: str
    source: str | None
    at: datetime


def bind(session: OrmSession, acting: Acting) -> None:
    """The versions this transaction records are in `acting`'s name."""
    session.info[_ACTING] = acting


def mark_rollback(session: OrmSession, kind: str, object_id: int, number: int) -> None:
    """The change to this object restores its version `number`."""
    session.info.setdefault(_ROLLBACKS, {})[(kind, object_id)] = number


def install() -> None:
    """Watch every session (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        event.listen(OrmSession, "before_flush", _before_flush)
        event.listen(OrmSession, "do_orm_execute", _before_bulk)
        event.listen(OrmSession, "before_commit", _before_commit)
        event.listen(OrmSession, "after_soft_rollback", _dropped)
        _installed = True


def uninstall() -> None:
    """Stop watching (the benchmark's baseline: the same work without history)."""
    global _installed
    with _lock:
        if not _installed:
            return
        event.remove(OrmSession, "before_flush", _before_flush)
        event.remove(OrmSession, "do_orm_execute", _before_bulk)
        event.remove(OrmSession, "before_commit", _before_commit)
        event.remove(OrmSession, "after_soft_rollback", _dropped)
        _installed = False


def _touched(session: OrmSession) -> set[Key]:
    found: set[Key] = session.info.setdefault(_TOUCHED, set())
    return found


def _touch_edge(touched: set[Key], edge: DependencyEdge) -> None:
    touched.add(("group", edge.group_id))
    touched.add(("task", edge.downstream_id))


def _definition_changed(obj: object) -> bool:
    """Whether a definition column was set since the last flush (the attributes whose
    original values the session keeps); setting an equal value counts, and the version
    comparison at commit drops it."""
    return any(key not in _NOT_DEFINITION for key in inspect(obj).committed_state)


def _before_flush(session: OrmSession, _context: Any, _instances: Any) -> None:
    touched = _touched(session)
    created: list[object] = session.info.setdefault(_CREATED, [])
    for obj in session.new:
        if isinstance(obj, (Task, TaskGroup, Calendar, DependencyEdge, GroupDependency)):
            created.append(obj)  # its id is known only after the flush
    for obj in (*session.dirty, *session.deleted):
        deleted = obj in session.deleted
        kind = _KINDS.get(type(obj))
        if kind is not None and (deleted or _definition_changed(obj)):
            touched.add((kind, obj.id))
        elif isinstance(obj, DependencyEdge):
            _touch_edge(touched, obj)
        elif isinstance(obj, GroupDependency):
            touched.add(("group", obj.group_id))


def _before_bulk(state: ORMExecuteState) -> None:
    """UPDATE/DELETE statements skip the flush: read which rows they will change first."""
    if not (state.is_update or state.is_delete):
        return
    statement = state.statement
    if not isinstance(statement, (Update, Delete)):
        return
    table, where = getattr(statement.table, "name", None), statement.whereclause
    touched = _touched(state.session)
    picked = _BULK_PICKS.get(str(table))
    if picked is None:
        return
    query = sa_select(*picked[1]).where(where) if where is not None else sa_select(*picked[1])
    for row in state.session.connection().execute(query):
        touched.update(zip(picked[0], row, strict=True))


def _dropped(session: OrmSession, previous: SessionTransaction) -> None:
    if previous.parent is None:
        for key in (_TOUCHED, _CREATED, _ACTING, _ROLLBACKS):
            session.info.pop(key, None)


def _before_commit(session: OrmSession) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # the touched set is complete only once everything is flushed
    created_rows = session.info.pop(_CREATED, [])
    touched = session.info.pop(_TOUCHED, set())
    acting = session.info.pop(_ACTING, None)
    rollbacks = session.info.pop(_ROLLBACKS, {})
    created: set[Key] = set()
    for obj in created_rows:
        if isinstance(obj, DependencyEdge):
            _touch_edge(touched, obj)
        elif isinstance(obj, GroupDependency):
            touched.add(("group", obj.group_id))
        else:
            created.add((_KINDS[type(obj)], obj.id))
    touched |= created
    if touched:
        record(session, touched, acting=acting, created=created, rollbacks=rollbacks)


def _expand_renames(definitions: Definitions, touched: set[Key]) -> set[Key]:
    """Others name a renamed task or group in their definitions: they change too."""
    extra: set[Key] = set()
    for kind, object_id in touched:
        head = definitions.head(kind, object_id)
        row = definitions.row(kind, object_id)
        if head is None or row is None or head.definition.get("name") == row.name:
            continue
        extra |= definitions.naming(kind, object_id)
    return extra - touched


def record(
    session: OrmSession,
    touched: Iterable[Key],
    *,
    acting: Acting | None,
    created: set[Key] | None = None,
    rollbacks: dict[Key, int] | None = None,
) -> int:
    """A new version for each touched object whose definition differs from its latest;
    returns how many. Written as plain rows in one statement (an import makes thousands)."""
    keys = set(touched)
    definitions = Definitions(session, keys)
    more = _expand_renames(definitions, keys)
    if more:
        keys |= more
        definitions = Definitions(session, keys)
    acting = acting or Acting(None, "system", None, datetime.now(UTC))  # nobody claimed it
    added: list[dict[str, Any]] = []
    for key in sorted(keys):
        version = _next_version(definitions, key, acting, created or set(), rollbacks or {})
        if version is not None:
            added.append(version)
    if added:
        session.execute(insert(DefinitionVersion), added)
    return len(added)


def _next_version(
    definitions: Definitions,
    key: Key,
    acting: Acting,
    created: set[Key],
    rollbacks: dict[Key, int],
) -> dict[str, Any] | None:
    kind, object_id = key
    head, row = definitions.head(kind, object_id), definitions.row(kind, object_id)
    stamp: dict[str, Any] = {
        "kind": kind,
        "object_id": object_id,
        "actor": acting.actor,
        "via": acting.via,
        "source": acting.source,
        "at": acting.at,
    }
    if row is None:  # deleted: its last definition, marked so
        if head is None or head.action == "deleted":
            return None
        return {
            **stamp,
            "number": head.number + 1,
            "name": head.name,
            "instance": head.instance,
            "action": "deleted",
            "rollback_of": None,
            "definition": head.definition,
            "env_sealed": head.env_sealed,
            "hidden_changes": [],
        }
    definition = definitions.definition(kind, row)
    sealed = row.env_sealed if isinstance(row, Task) else None
    hidden = definitions.hidden_changes(head.env_sealed if head else None, sealed)
    reborn = head is not None and head.action == "deleted"  # SQLite reused a deleted id
    if head is not None and not reborn and head.definition == definition and not hidden:
        return None
    number = (head.number if head else 0) + 1
    row.version = number
    action = "updated" if head and not reborn else "created"
    if head is None and key not in created:
        action = "baseline"
    if key in rollbacks:
        action = "rolled_back"
    return {
        **stamp,
        "number": number,
        "name": row.name,
        "instance": getattr(row, "instance", None),
        "action": action,
        "rollback_of": rollbacks.get(key),
        "definition": definition,
        "env_sealed": sealed,
        "hidden_changes": hidden,
    }
