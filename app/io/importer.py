"""Import: what a document would change, checked as a whole before anything is written.

`merge` creates and updates what the file names and keeps the rest; `mirror` also deletes
what the file lacks (tasks, groups and edges of the caller's instances; calendars only for a
caller who sees every instance, since calendars are shared by all of them).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from sqlmodel import Session, select

from app.db.pool_tables import Pool
from app.db.tables import Agent
from app.io.export import database_snapshot
from app.io.parse import FileContent, parse_document
from app.io.problems import ImportRefused
from app.io.snapshot import KINDS, Item, Key, Snapshot, describe
from app.io.validate import Checker, check_state
from app.models.io_schemas import ImportChange

Mode = Literal["merge", "mirror"]


@dataclass
class Diff:
    """Per kind: keys to create, update (with the fields that change) and delete."""

    create: dict[str, list[Key]] = field(default_factory=dict)
    update: dict[str, dict[Key, list[str]]] = field(default_factory=dict)
    delete: dict[str, list[Key]] = field(default_factory=dict)
    unchanged: int = 0

    def changes(self) -> list[ImportChange]:
        found = []
        for info in KINDS:
            kind = info.kind
            found += [
                ImportChange(action="create", kind=kind, name=describe(kind, k))
                for k in self.create.get(kind, [])
            ]
            found += [
                ImportChange(action="update", kind=kind, name=describe(kind, k), fields=fields)
                for k, fields in self.update.get(kind, {}).items()
            ]
            found += [
                ImportChange(action="delete", kind=kind, name=describe(kind, k))
                for k in self.delete.get(kind, [])
            ]
        return found

    def summary(self) -> dict[str, int]:
        return {
            "create": sum(len(v) for v in self.create.values()),
            "update": sum(len(v) for v in self.update.values()),
            "delete": sum(len(v) for v in self.delete.values()),
            "unchanged": self.unchanged,
        }

    def touches(self, kind: str) -> bool:
        return bool(self.create.get(kind) or self.update.get(kind) or self.delete.get(kind))


@dataclass
class Plan:
    current: Snapshot
    desired: Snapshot
    diff: Diff


def desired_state(current: Snapshot, file: Snapshot, mode: Mode, all_instances: bool) -> Snapshot:
    """The state the import leaves: the file over what exists (merge) or the file (mirror)."""
    if mode == "mirror":
        desired = file.copy()
        if not all_instances:  # calendars of other instances' schedules stay
            desired.items["calendar"] = {**current.of("calendar"), **file.of("calendar")}
    else:
        desired = current.copy()
        for info in KINDS:
            desired.items[info.kind].update(file.of(info.kind))
    # A task item that does not mention `secrets` keeps those the server holds.
    for key, item in file.of("task").items():
        if "secrets" not in item:
            held = (current.of("task").get(key) or {}).get("secrets") or {}
            desired.items["task"][key] = {**item, "secrets": dict(held)}
    # An edge whose ends left its group goes with them.
    tasks = desired.of("task")
    desired.items["dependency"] = {
        key: item
        for key, item in desired.of("dependency").items()
        if all((tasks.get((key[0], end)) or {}).get("group") == key[1] for end in key[2:])
    }
    return desired


def diff(current: Snapshot, desired: Snapshot) -> Diff:
    result = Diff()
    for info in KINDS:
        now, wanted = current.of(info.kind), desired.of(info.kind)
        result.create[info.kind] = sorted(k for k in wanted if k not in now)
        result.delete[info.kind] = sorted(k for k in now if k not in wanted)
        updates: dict[Key, list[str]] = {}
        for key in sorted(k for k in wanted if k in now):
            changed = _changed_fields(now[key], wanted[key])
            if changed:
                updates[key] = changed
            else:
                result.unchanged += 1
        result.update[info.kind] = updates
    return result


def _changed_fields(before: Item, after: Item) -> list[str]:
    return [name for name in after if before.get(name) != after[name]]


def known_agents(session: Session) -> set[str]:
    return set(session.exec(select(Agent.name)).all())


def plan_import(
    session: Session, raw: bytes, *, mode: Mode, granted: Collection[str] | None
) -> Plan:
    """Parse and check `raw` against the database; refuse with every problem found.

    `granted`: the caller's instances (None: all). Items of other instances are refused.
    """
    content: FileContent = parse_document(raw)
    current = database_snapshot(session, granted)
    desired = desired_state(current, content.snapshot, mode, granted is None)
    problems = check_state(
        Checker(
            desired=desired,
            current=current,
            file=content,
            agents=known_agents(session),
            granted=granted,
            problems=[],
            pools={(p.instance, p.name): p.slots for p in session.exec(select(Pool)).all()},
        )
    )
    if problems:
        raise ImportRefused(422, problems)
    return Plan(current=current, desired=desired, diff=diff(current, desired))
