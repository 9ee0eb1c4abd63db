"""A plan as a reviewer reads it: field by field, in a stable order, as text or as data.

    + group etl  (etl.yaml)
        schedule: {"cron": "0 2 * * *", "kind": "cron"}
    ~ task etl/load  (etl.yaml)
        schedule.cron: "0 2 * * *" -> "0 3 * * *"
    - task etl/old

    Plan: 1 to create, 1 to update, 1 to delete, 12 unchanged.

Secret values are never shown, only that one is set.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from app.definitions.planner import DefinitionsPlan
from app.io.snapshot import BY_KIND, KINDS, Item, Key, describe
from app.models.definition_schemas import DefinitionChange, FieldChange
from app.models.io_schemas import Kind

_MARK = {"create": "+", "update": "~", "delete": "-"}
_ORDER = {"create": 0, "update": 1, "delete": 2}
# The fields a change's title already names.
_NAMES: dict[Kind, tuple[str, ...]] = {
    "calendar": ("name",),
    "group": ("name", "instance"),
    "task": ("name", "instance"),
    "dependency": ("instance", "group", "upstream", "downstream"),
    "group_dependency": ("instance", "group", "upstream_group", "upstream_instance"),
}
SECRET_SHOWN = "(secret)"

# The fields a minimal item of each kind needs, to know the defaults of the others.
_MINIMAL: dict[Kind, dict[str, Any]] = {
    "calendar": {"name": "x"},
    "group": {"name": "x"},
    "task": {"name": "x", "command": "x"},
    "dependency": {"group": "x", "upstream": "x", "downstream": "y"},
    "group_dependency": {"group": "x", "upstream_group": "y"},
}


@cache
def _defaults(kind: Kind) -> Item:
    """The canonical item with every default (read only: shared by every call)."""
    info = BY_KIND[kind]
    return info.canonical(info.model.model_validate(_MINIMAL[kind]))


def shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _masked(path: str, value: Any) -> Any:
    if path.startswith("secrets") and value is not None:
        if isinstance(value, dict):
            return dict.fromkeys(sorted(value), SECRET_SHOWN)
        return SECRET_SHOWN
    return value


def field_changes(before: Any, after: Any, path: str) -> list[FieldChange]:
    """One change per leaf that differs; mappings on both sides are followed key by key."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[FieldChange] = []
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                found += field_changes(before.get(name), after.get(name), f"{path}.{name}")
        return found
    return [FieldChange(field=path, before=_masked(path, before), after=_masked(path, after))]


def _created_fields(kind: Kind, item: Item) -> list[FieldChange]:
    defaults = _defaults(kind)
    return [
        FieldChange(field=name, before=None, after=_masked(name, value))
        for name, value in item.items()
        if name not in _NAMES[kind] and value != defaults.get(name) and value not in (None, {}, [])
    ]


def plan_changes(plan: DefinitionsPlan) -> list[DefinitionChange]:
    d, current, desired = plan.diff, plan.plan.current, plan.plan.desired
    adopted = set(plan.adopted)
    found: list[tuple[int, Key, int, DefinitionChange]] = []
    for rank, info in enumerate(KINDS):
        kind = info.kind

        def add(
            action: str, key: Key, fields: list[FieldChange], kind: Kind = kind, rank: int = rank
        ) -> None:
            holder = plan.bundle.holders.get((kind, key))
            change = DefinitionChange(
                action=action,
                kind=kind,
                name=describe(kind, key),
                file=holder,
                fields=fields,
            )
            found.append((rank, key, _ORDER[action], change))

        for key in d.create.get(kind, []):
            add("create", key, _created_fields(kind, desired.of(kind)[key]))
        updated = d.update.get(kind, {})
        for key, names in updated.items():
            fields = [
                change
                for name in names
                for change in field_changes(
                    current.of(kind)[key].get(name), desired.of(kind)[key][name], name
                )
            ]
            add("update", key, _ownership(plan, kind, key, adopted) + fields)
        for key in d.delete.get(kind, []):
            add("delete", key, [])
        for akind, key in plan.adopted:
            if akind == kind and key not in updated:
                add("update", key, _ownership(plan, kind, key, adopted))
    return [change for *_, change in sorted(found, key=lambda f: f[:3])]


def _ownership(
    plan: DefinitionsPlan, kind: Kind, key: Key, adopted: set[tuple[Kind, Key]]
) -> list[FieldChange]:
    if (kind, key) not in adopted:
        return []
    before = plan.owners.get((kind, key), (None, None))[0]
    return [FieldChange(field="managed_by", before=before, after=plan.source)]


def summary(plan: DefinitionsPlan, changes: list[DefinitionChange]) -> dict[str, int]:
    counted = {action: sum(c.action == action for c in changes) for action in _ORDER}
    only_adopted = [k for kind, k in plan.adopted if k not in plan.diff.update.get(kind, {})]
    return {**counted, "unchanged": plan.diff.unchanged - len(only_adopted)}


def plan_text(changes: list[DefinitionChange], counts: dict[str, int]) -> str:
    lines: list[str] = []
    for change in changes:
        where = f"  ({change.file})" if change.file else ""
        lines.append(f"{_MARK[change.action]} {change.kind} {change.name}{where}")
        for item in change.fields:
            if change.action == "create":
                lines.append(f"    {item.field}: {shown(item.after)}")
            else:
                lines.append(f"    {item.field}: {shown(item.before)} -> {shown(item.after)}")
    if not changes:
        lines.append("No changes.")
    lines += [
        "",
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete, {counts['unchanged']} unchanged.",
    ]
    return "\n".join(lines) + "\n"
