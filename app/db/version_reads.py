"""What the history recorder reads at commit: the touched rows, the names their definitions
refer to, and each object's latest version, a few queries for any number of objects."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from typing import Any, cast

from sqlalchemy import and_, func, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm.util import identity_key
from sqlmodel import col, select

from app.db.sealing import box_or_none
from app.db.tables import Calendar, DependencyEdge, GroupDependency, Task, TaskGroup
from app.db.version_tables import DefinitionVersion
from app.io.definition_items import calendar_row_item, group_row_item, task_row_item

Key = tuple[str, int]
Row = Task | TaskGroup | Calendar
_MODELS: dict[str, type[Row]] = {
    "task": Task,
    "group": TaskGroup,
    "calendar": Calendar,
}
_CHUNK = 500  # ids per IN (...): SQLite's bound-parameter limit


def _chunks(ids: Collection[int]) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def latest_versions(
    session: OrmSession, kind: str, ids: Collection[int]
) -> dict[int, DefinitionVersion]:
    found: dict[int, DefinitionVersion] = {}
    for chunk in _chunks(ids):
        newest = (
            select(DefinitionVersion.object_id, func.max(DefinitionVersion.number).label("n"))
            .where(DefinitionVersion.kind == kind, col(DefinitionVersion.object_id).in_(chunk))
            .group_by(col(DefinitionVersion.object_id))
            .subquery()
        )
        rows = session.scalars(
            select(DefinitionVersion)
            .join(
                newest,
                and_(
                    col(DefinitionVersion.object_id) == newest.c.object_id,
                    col(DefinitionVersion.number) == newest.c.n,
                ),
            )
            .where(DefinitionVersion.kind == kind)
        ).all()
        found.update({row.object_id: row for row in rows})
    return found


def _loaded(
    session: OrmSession, model: type[Row], ids: Collection[int]
) -> tuple[dict[int, Any], set[int]]:
    """The rows the session holds already, and the ids it must read."""
    found: dict[int, Any] = {}
    for object_id in ids:
        row = session.identity_map.get(identity_key(model, object_id))
        if row is not None and not inspect(row).expired:
            found[object_id] = row
    return found, set(ids) - set(found)


def _rows(session: OrmSession, model: type[Row], ids: Collection[int]) -> dict[int, Any]:
    found, missing = _loaded(session, model, ids)
    for chunk in _chunks(missing):
        rows = cast(
            Sequence[Row], session.scalars(select(model).where(col(model.id).in_(chunk))).all()
        )
        found.update({row.id or 0: row for row in rows})
    return found


def _locked_rows(session: OrmSession, model: type[Row], ids: Collection[int]) -> dict[int, Any]:
    """The objects as committed plus this transaction's changes, re-read (another
    transaction may have committed since this one loaded them) and locked (PostgreSQL)
    until this one ends: two transactions changing one object number versions in turn."""
    found: dict[int, Any] = {}
    for chunk in _chunks(ids):
        query = (
            select(model)
            .where(col(model.id).in_(chunk))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        rows = cast(Sequence[Row], session.scalars(query).all())
        found.update({row.id or 0: row for row in rows})
    return found


def _heads(
    session: OrmSession, kind: str, numbers: dict[int, int], ids: Collection[int]
) -> dict[int, DefinitionVersion]:
    """Each object's latest version: the one its row names (one indexed read), else the
    highest it has."""
    named = {object_id: number for object_id, number in numbers.items() if number}
    found: dict[int, DefinitionVersion] = {}
    for chunk in _chunks(named):
        # Every wanted (object, number) pair is among these rows; a few others may be too.
        rows = session.scalars(
            select(DefinitionVersion).where(
                DefinitionVersion.kind == kind,
                col(DefinitionVersion.object_id).in_(chunk),
                col(DefinitionVersion.number).in_({named[i] for i in chunk}),
            )
        )
        found.update((v.object_id, v) for v in rows if named[v.object_id] == v.number)
    # Deleted, new or never versioned: SQLite may have reused the id of a deleted object,
    # whose history the new one continues after.
    gone = [object_id for object_id in ids if not numbers.get(object_id)]
    found.update(latest_versions(session, kind, gone) if gone else {})
    return found


class Definitions:
    """The touched objects' rows, latest versions and the names their definitions use."""

    def __init__(self, session: OrmSession, keys: Collection[Key]) -> None:
        self.session = session
        wanted: dict[str, set[int]] = defaultdict(set)
        for kind, object_id in keys:
            wanted[kind].add(object_id)
        self._rows: dict[Key, Row] = {}
        self._heads: dict[Key, DefinitionVersion] = {}
        for kind, ids in sorted(wanted.items()):  # one lock order for every transaction
            rows = _locked_rows(session, _MODELS[kind], ids)
            self._rows.update({(kind, object_id): row for object_id, row in rows.items()})
            numbers = {object_id: row.version for object_id, row in rows.items()}
            for object_id, head in _heads(session, kind, numbers, ids).items():
                self._heads[(kind, object_id)] = head
        self._load_references(wanted.get("task", set()), wanted.get("group", set()))

    def _load_references(self, tids: set[int], gids: set[int]) -> None:
        edges: list[DependencyEdge] = []
        for chunk in _chunks(tids):
            edges += self.session.scalars(
                select(DependencyEdge).where(col(DependencyEdge.downstream_id).in_(chunk))
            ).all()
        for chunk in _chunks(gids):
            edges += self.session.scalars(
                select(DependencyEdge).where(col(DependencyEdge.group_id).in_(chunk))
            ).all()
        waits: list[GroupDependency] = []
        for chunk in _chunks(gids):
            waits += self.session.scalars(
                select(GroupDependency).where(col(GroupDependency.group_id).in_(chunk))
            ).all()
        self.edges = {edge.id: edge for edge in edges}
        # Indexed once: each task and group reads its own edges, not all of them (an import
        # of thousands of tasks would otherwise scan every edge per task).
        self._edges_into: dict[int, list[DependencyEdge]] = defaultdict(list)
        self._edges_of_group: dict[int, list[DependencyEdge]] = defaultdict(list)
        for edge in self.edges.values():
            self._edges_into[edge.downstream_id].append(edge)
            self._edges_of_group[edge.group_id].append(edge)
        self.waits = waits
        task_ids = {e.upstream_id for e in edges} | {e.downstream_id for e in edges}
        task_ids |= {tid for (kind, tid) in self._rows if kind == "task"}
        self.tasks: dict[int, Task] = _rows(self.session, Task, task_ids)
        group_ids = {t.group_id for t in self.tasks.values() if t.group_id is not None}
        group_ids |= {w.upstream_group_id for w in waits} | gids
        self.groups: dict[int, TaskGroup] = _rows(self.session, TaskGroup, group_ids)

    def row(self, kind: str, object_id: int) -> Row | None:
        return self._rows.get((kind, object_id))

    def head(self, kind: str, object_id: int) -> DefinitionVersion | None:
        return self._heads.get((kind, object_id))

    def naming(self, kind: str, object_id: int) -> set[Key]:
        """Who names this task or group in their definition."""
        if kind == "task":
            task = self.tasks.get(object_id)
            found = {("group", task.group_id)} if task and task.group_id else set()
            down = self.session.scalars(
                select(DependencyEdge.downstream_id).where(DependencyEdge.upstream_id == object_id)
            ).all()
            return found | {("task", tid) for tid in down}
        if kind == "group":
            members = self.session.scalars(select(Task.id).where(Task.group_id == object_id))
            waiting = self.session.scalars(
                select(GroupDependency.group_id).where(
                    GroupDependency.upstream_group_id == object_id
                )
            )
            return {("task", t) for t in members if t} | {("group", g) for g in waiting}
        return set()

    def definition(self, kind: str, row: Row) -> dict[str, Any]:
        if isinstance(row, Task):
            return self._task(row)
        if isinstance(row, TaskGroup):
            return self._group(row)
        return calendar_row_item(row)

    def _task(self, task: Task) -> dict[str, Any]:
        group = self.groups.get(task.group_id) if task.group_id is not None else None
        item = task_row_item(self.session, task, group.name if group else None, reveal_env=False)  # type: ignore[arg-type]
        upstreams = [
            {"upstream": self.tasks[e.upstream_id].name, "condition": e.condition}
            for e in self._edges_into.get(task.id or 0, [])
            if self._inside(e)
        ]
        item["upstreams"] = sorted(upstreams, key=lambda u: (u["upstream"], u["condition"]))
        return item

    def _inside(self, edge: DependencyEdge) -> bool:
        """Export's rule: an edge whose ends left its group is not part of it."""
        up, down = self.tasks.get(edge.upstream_id), self.tasks.get(edge.downstream_id)
        return (
            up is not None
            and down is not None
            and up.group_id == edge.group_id
            and down.group_id == edge.group_id
        )

    def _group(self, group: TaskGroup) -> dict[str, Any]:
        item = group_row_item(group)
        edges = [
            {
                "upstream": self.tasks[e.upstream_id].name,
                "downstream": self.tasks[e.downstream_id].name,
                "condition": e.condition,
            }
            for e in self._edges_of_group.get(group.id or 0, [])
            if self._inside(e)
        ]
        item["edges"] = sorted(edges, key=lambda e: (e["upstream"], e["downstream"]))
        waits = []
        for dep in self.waits:
            upstream = self.groups.get(dep.upstream_group_id)
            if dep.group_id == group.id and upstream is not None:
                other = upstream.instance if upstream.instance != group.instance else None
                waits.append({"group": upstream.name, "instance": other})
        item["waits_for"] = sorted(waits, key=lambda w: (w["instance"] or "", w["group"]))
        return item

    def hidden_changes(self, before: str | None, after: str | None) -> list[str]:
        """The env and secret entries (in both) whose values differ: names only."""
        if before == after:
            return []
        box = box_or_none(self.session)
        if box is None:
            return []
        old, new = box.open(before), box.open(after)
        changed = [
            f"env.{k}" for k in sorted(set(old.env) & set(new.env)) if old.env[k] != new.env[k]
        ]
        changed += [
            f"secrets.{k}"
            for k in sorted(set(old.secrets) & set(new.secrets))
            if old.secrets[k] != new.secrets[k]
        ]
        return changed


def versions_of(session: OrmSession, kind: str, object_id: int) -> Sequence[DefinitionVersion]:
    """Its versions, oldest first, since it was last created (SQLite may reuse a deleted
    row's id: the history of the object that had it before stays apart)."""
    rows = session.scalars(
        select(DefinitionVersion)
        .where(DefinitionVersion.kind == kind, DefinitionVersion.object_id == object_id)
        .order_by(col(DefinitionVersion.number))
    ).all()
    start = 0
    for index, row in enumerate(rows):
        if row.action == "deleted" and index + 1 < len(rows):
            start = index + 1
    return rows[start:]
