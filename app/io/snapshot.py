"""Definitions as canonical JSON items keyed by name: what export writes and import compares.

The database and a file both become a `Snapshot`; export dumps one, import diffs two. Every
item goes through the same canonical form (every field present, schedules without their
defaults, dates and mappings sorted), so export -> import -> export is byte-identical.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from app.domain.blackouts import blackout_to_dict
from app.domain.schedules import schedule_to_dict
from app.models.io_schemas import (
    FORMAT,
    CalendarItem,
    DependencyItem,
    GroupDependencyItem,
    GroupItem,
    Kind,
    TaskItem,
    item_dict,
)

Key = tuple[str, ...]
Item = dict[str, Any]


def _with_schedule(model: GroupItem | TaskItem, data: Item) -> Item:
    data["schedule"] = schedule_to_dict(model.schedule) if model.schedule is not None else None
    data["schedules"] = [schedule_to_dict(item) for item in model.schedules]
    data["blackouts"] = [blackout_to_dict(item) for item in model.blackouts]
    return data


def calendar_item(model: CalendarItem) -> Item:
    data = item_dict(model)
    data["extra_dates"] = sorted(set(data["extra_dates"]))
    data["working_dates"] = sorted(set(data["working_dates"]))
    data["categories"] = sorted(set(data["categories"]))
    # include/exclude keep their order (the order reasons are looked up in), each name once
    data["include"] = list(dict.fromkeys(data["include"]))
    data["exclude"] = list(dict.fromkeys(data["exclude"]))
    return data


def group_item(model: GroupItem) -> Item:
    data = _with_schedule(model, item_dict(model))
    return {"name": data.pop("name"), "instance": data.pop("instance"), **data}


def task_item(model: TaskItem) -> Item:
    data = _with_schedule(model, item_dict(model))
    data["labels"] = dict(sorted(data["labels"].items()))
    data["env"] = dict(sorted(data["env"].items()))
    if "secrets" in model.model_fields_set:
        data["secrets"] = dict(sorted(data["secrets"].items()))
    else:  # left out of a file: the task keeps its secrets (importer.desired_state)
        del data["secrets"]
    head = {k: data.pop(k) for k in ("name", "instance", "command", "group")}
    return {**head, **data}


def dependency_item(model: DependencyItem) -> Item:
    return item_dict(model)


def group_dependency_item(model: GroupDependencyItem) -> Item:
    data = item_dict(model)
    if data["upstream_instance"] == data["instance"]:
        data["upstream_instance"] = None
    return data


def calendar_key(item: Item) -> Key:
    return (item["name"],)


def named_key(item: Item) -> Key:
    return (item["instance"], item["name"])


def dependency_key(item: Item) -> Key:
    return (item["instance"], item["group"], item["upstream"], item["downstream"])


def group_dependency_key(item: Item) -> Key:
    return (
        item["instance"],
        item["group"],
        item["upstream_instance"] or item["instance"],
        item["upstream_group"],
    )


@dataclass(frozen=True)
class KindInfo:
    kind: Kind
    section: str  # the document's list
    model: type[BaseModel]
    canonical: Callable[[Any], Item]
    key: Callable[[Item], Key]


KINDS: tuple[KindInfo, ...] = (
    KindInfo("calendar", "calendars", CalendarItem, calendar_item, calendar_key),
    KindInfo("group", "groups", GroupItem, group_item, named_key),
    KindInfo("task", "tasks", TaskItem, task_item, named_key),
    KindInfo("dependency", "dependencies", DependencyItem, dependency_item, dependency_key),
    KindInfo(
        "group_dependency",
        "group_dependencies",
        GroupDependencyItem,
        group_dependency_item,
        group_dependency_key,
    ),
)
BY_KIND = {info.kind: info for info in KINDS}


def describe(kind: Kind, key: Key) -> str:
    """A person's name for an item: `etl/load`, `etl: a -> b`, `nightly`."""
    instance = "" if key[0] == "default" else f"{key[0]}/"
    if kind == "calendar":
        return key[0]
    if kind in ("group", "task"):
        return instance + key[1]
    if kind == "dependency":
        return f"{instance}{key[1]}: {key[2]} -> {key[3]}"
    upstream = key[3] if key[2] == key[0] else f"{key[2]}/{key[3]}"
    return f"{instance}{key[1]} waits for {upstream}"


@dataclass
class Snapshot:
    """Canonical items of each kind, keyed by their names."""

    items: dict[Kind, dict[Key, Item]] = field(
        default_factory=lambda: {info.kind: {} for info in KINDS}
    )

    def add(self, kind: Kind, item: Item) -> Key:
        key = BY_KIND[kind].key(item)
        self.items[kind][key] = item
        return key

    def of(self, kind: Kind) -> dict[Key, Item]:
        return self.items[kind]

    def copy(self) -> Snapshot:
        return Snapshot({kind: dict(items) for kind, items in self.items.items()})

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": FORMAT}
        for info in KINDS:
            doc[info.section] = [self.items[info.kind][k] for k in sorted(self.items[info.kind])]
        return doc


def dumps(document: dict[str, Any]) -> str:
    """The one text form of a document: two-space indent, keys in model order, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
