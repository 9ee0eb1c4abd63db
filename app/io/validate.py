"""Rules a document must keep beyond its fields: references by name, agents, instances,
acyclic dependencies. Checked on the state the import would leave, for the file's items."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from dataclasses import field as default

from app.db.placeholder_checks import declared_names
from app.domain.calendars import find_cycle, validate_calendar_fields
from app.domain.dag import CycleError, Edge, EdgeCondition, check_acyclic
from app.domain.placeholders import check_fields
from app.env_secrets import MASK
from app.io.parse import FileContent
from app.io.problems import problem
from app.io.snapshot import Item, Key, Snapshot
from app.models.io_schemas import ImportProblem, Kind


@dataclass
class Checker:
    desired: Snapshot
    current: Snapshot
    file: FileContent
    agents: Collection[str]
    granted: Collection[str] | None  # None: every instance
    problems: list[ImportProblem]
    pools: Mapping[tuple[str, str], int] = default(default_factory=dict)  # (instance, name): slots
    # Named by the files but not readable (their own problem is named): not "unknown".
    unread: Collection[tuple[Kind, Key]] = ()

    def known(self, kind: Kind, key: Key) -> bool:
        return key in self.desired.of(kind) or (kind, key) in self.unread

    def pool_ref(self, label: str, item: Item, slots: int | None) -> None:
        """Pools are not in documents: a pool named must exist on the server, in the item's
        instance, with room for the slots a run asks."""
        name = item.get("pool")
        if not name:
            return
        found = self.pools.get((item["instance"], name))
        if found is None:
            self.flag(label, "pool", f"no pool {name!r} in instance {item['instance']!r}")
        elif slots is not None and slots > found:
            self.flag(label, "pool_slots", f"{slots} is more than pool {name!r} has ({found})")

    def flag(self, label: str, field: str, text: str) -> None:
        self.problems.append(problem(label, field, text))

    def own(self, kind: Kind) -> list[tuple[str, Key, Item]]:
        """The file's items of `kind`, with their labels, in file order."""
        found = [(label, key) for (k, key), label in self.file.labels.items() if k == kind]
        return [(label, key, self.file.snapshot.of(kind)[key]) for label, key in found]

    def granted_instance(self, label: str, instance: str, field: str = "instance") -> None:
        if self.granted is not None and instance not in self.granted:
            self.flag(label, field, f"instance {instance!r} is not granted to you")

    def calendar_ref(self, label: str, item: Item) -> None:
        name = (item.get("schedule") or {}).get("calendar")
        if name and not self.known("calendar", (name,)):
            self.flag(label, "schedule.calendar", f"unknown calendar {name!r}")


def check_state(checker: Checker) -> list[ImportProblem]:
    for label, _key, item in checker.own("calendar"):
        try:
            validate_calendar_fields(item["country"], item["subdivision"], item["categories"])
        except ValueError as exc:
            field, _, text = str(exc).partition(": ")
            checker.flag(label, field, text)
    _check_calendar_combinations(checker)
    for label, _key, item in checker.own("group"):
        checker.granted_instance(label, item["instance"])
        checker.calendar_ref(label, item)
        checker.pool_ref(label, item, item.get("pool_slots"))
    _check_tasks(checker)
    _check_dependencies(checker)
    _check_group_dependencies(checker)
    return checker.problems


def _check_calendar_combinations(checker: Checker) -> None:
    """Included and excluded calendars exist in the state the import leaves, no calendar is
    both, and they form no cycle (the path is named)."""
    calendars = checker.desired.of("calendar")
    graph = {key[0]: [*i["include"], *i["exclude"]] for key, i in calendars.items()}
    for label, key, item in checker.own("calendar"):
        for field in ("include", "exclude"):
            for name in item[field]:
                if not checker.known("calendar", (name,)):
                    checker.flag(label, field, f"unknown calendar {name!r}")
        both = sorted(set(item["include"]) & set(item["exclude"]))
        if both:
            checker.flag(label, "exclude", f"{', '.join(both)} is also included")
        cycle = find_cycle(graph, key[0])
        if cycle is not None:
            checker.flag(label, "include", f"calendars would form a cycle: {' -> '.join(cycle)}")
    for key, item in calendars.items():  # a calendar left in place may lose its reference
        for name in [*item["include"], *item["exclude"]]:
            if (name,) not in calendars and not checker.file.label("calendar", key):
                checker.flag(f"calendar {key[0]!r}", "include", f"uses {name!r}, which goes")


def _check_tasks(checker: Checker) -> None:
    for label, key, item in checker.own("task"):
        checker.granted_instance(label, item["instance"])
        checker.calendar_ref(label, item)
        checker.pool_ref(label, item, item.get("pool_slots"))
        group = item["group"]
        if group is not None and not checker.known("group", (item["instance"], group)):
            checker.flag(
                label, "group", f"unknown group {group!r} in instance {item['instance']!r}"
            )
        target = item["target"]
        before = checker.current.of("task").get(key) or {}
        # Only a new reference must name a known agent: a file that leaves a task as it is
        # imports even after that task's agent was removed.
        if target and target not in checker.agents and before.get("target") != target:
            checker.flag(label, "target", f"unknown agent {target!r}")
        _check_env(checker, label, item, before)
        _check_placeholders(checker, label, item)


def _check_placeholders(checker: Checker, label: str, item: Item) -> None:
    """`${param.NAME}` must be declared by the task or its group (as the file leaves it)."""
    if ("group", (item["instance"], item["group"] or "")) in checker.unread:
        return  # the group's params are not known
    group = checker.desired.of("group").get((item["instance"], item["group"] or ""))
    names = declared_names(item.get("params") or [], (group or {}).get("params") or [])
    for field, text in check_fields(
        command=item["command"],
        env=item["env"],
        workdir=item["workdir"],
        mounts=item["mounts"],
        param_names=names,
    ):
        checker.flag(label, field, text)


def _check_env(checker: Checker, label: str, item: Item, before: Item) -> None:
    """Secrets exported as null keep the value held here, so one must be held; env values
    masked by an export for a viewer are not values."""
    held = before.get("secrets") or {}
    for name, value in sorted((item.get("secrets") or {}).items()):
        if value is None and name not in held:
            checker.flag(
                label,
                f"secrets.{name}",
                "no value is held for it here (exports leave secret values out): give the value",
            )
        if name in item["env"]:
            checker.flag(label, f"secrets.{name}", "is also in env: a name is either")
    for name, value in sorted(item["env"].items()):
        if value == MASK:
            checker.flag(label, f"env.{name}", "is masked (an export for a viewer): give the value")


def _check_dependencies(checker: Checker) -> None:
    tasks, groups = checker.desired.of("task"), checker.desired.of("group")
    for label, _key, item in checker.own("dependency"):
        instance, group = item["instance"], item["group"]
        checker.granted_instance(label, instance)
        if ("group", (instance, group)) in checker.unread:
            continue  # its tasks may not be in it as the state stands
        if (instance, group) not in groups:
            checker.flag(label, "group", f"unknown group {group!r} in instance {instance!r}")
            continue
        for end in ("upstream", "downstream"):
            task = tasks.get((instance, item[end]))
            if ("task", (instance, item[end])) in checker.unread:
                continue
            if task is None:
                checker.flag(label, end, f"unknown task {item[end]!r} in instance {instance!r}")
            elif task["group"] != group:
                checker.flag(label, end, f"task {item[end]!r} is not in group {group!r}")
    _check_cycles(checker)


def _check_cycles(checker: Checker) -> None:
    by_group: dict[tuple[str, str], list[Item]] = {}
    for item in checker.desired.of("dependency").values():
        by_group.setdefault((item["instance"], item["group"]), []).append(item)
    for (instance, group), items in sorted(by_group.items()):
        names = sorted({n for i in items for n in (i["upstream"], i["downstream"])})
        ids = {name: index for index, name in enumerate(names)}
        edges = [
            Edge(ids[i["upstream"]], ids[i["downstream"]], EdgeCondition(i["condition"]))
            for i in items
        ]
        try:
            check_acyclic(ids.values(), edges, dict(enumerate(names)))
        except CycleError as exc:
            path = [names[n] for n in exc.path]
            label = _label_on_path(checker, instance, group, path)
            checker.flag(label, "downstream", str(exc))


def _label_on_path(checker: Checker, instance: str, group: str, path: list[str]) -> str:
    """The file's item that closes the cycle (the last of the path's edges in the file)."""
    found = f"dependencies of group {group!r}"
    for up, down in zip(path, path[1:], strict=False):
        found = checker.file.label("dependency", (instance, group, up, down)) or found
    return found


def _check_group_dependencies(checker: Checker) -> None:
    for label, _key, item in checker.own("group_dependency"):
        checker.granted_instance(label, item["instance"])
        upstream_instance = item["upstream_instance"] or item["instance"]
        checker.granted_instance(label, upstream_instance, "upstream_instance")
        if item["group"] == item["upstream_group"] and upstream_instance == item["instance"]:
            checker.flag(label, "upstream_group", "a group cannot wait for itself")
        for field, key in (
            ("group", (item["instance"], item["group"])),
            ("upstream_group", (upstream_instance, item["upstream_group"])),
        ):
            if not checker.known("group", key):
                checker.flag(label, field, f"unknown group {key[1]!r} in instance {key[0]!r}")
    keys = list(checker.desired.of("group_dependency"))
    nodes = sorted({(k[0], k[1]) for k in keys} | {(k[2], k[3]) for k in keys})
    ids = {node: index for index, node in enumerate(nodes)}
    edges = [Edge(ids[(k[2], k[3])], ids[(k[0], k[1])]) for k in keys]
    names = {i: n[1] if n[0] == "default" else f"{n[0]}/{n[1]}" for n, i in ids.items()}
    try:
        check_acyclic(ids.values(), edges, names)
    except CycleError as exc:
        label = "group_dependencies"
        for up, down in zip(exc.path, exc.path[1:], strict=False):
            (ui, un), (di, dn) = nodes[up], nodes[down]
            label = checker.file.label("group_dependency", (di, dn, ui, un)) or label
        checker.flag(label, "upstream_group", str(exc))
