"""What applying definition files would change: the state they leave, and the diff to it.

The files are laid over what exists (like an import in `merge` mode), with two rules of their
own: a group the files hold has exactly the edges and group waits the files list, and with
`prune` the calendars, groups and tasks this source manages but the files no longer hold go.
Nothing managed by another source, or by no source, is ever pruned.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from app.db.pool_tables import Pool
from app.db.tables import Calendar, Task, TaskGroup
from app.definitions.bundle import Bundle
from app.io.export import database_snapshot
from app.io.importer import Diff, Plan, diff, known_agents
from app.io.problems import ImportRefused, problem
from app.io.snapshot import Key, Snapshot, describe
from app.io.validate import Checker, check_state
from app.models.io_schemas import ImportProblem, Kind

MANAGED_KINDS: tuple[Kind, ...] = ("calendar", "group", "task")
Owners = dict[tuple[Kind, Key], tuple[str | None, str | None]]  # (managed_by, managed_file)


@dataclass
class DefinitionsPlan:
    source: str
    commit: str | None
    prune: bool
    plan: Plan
    bundle: Bundle
    owners: Owners
    # Items the files hold that another source (or none) manages now: this source takes them.
    adopted: list[tuple[Kind, Key]] = field(default_factory=list)
    # Items this source manages that moved to another file (only the record of it changes).
    moved: list[tuple[Kind, Key]] = field(default_factory=list)

    @property
    def diff(self) -> Diff:
        return self.plan.diff

    def is_empty(self) -> bool:
        return (
            not self.adopted
            and not self.moved
            and not any(self.diff.touches(kind) for kind in self.plan.desired.items)
        )


def owners(session: Session, granted: Collection[str] | None) -> Owners:
    """Who manages each calendar, group and task (of the caller's instances)."""
    found: Owners = {}
    for name, by, path in session.exec(
        select(Calendar.name, Calendar.managed_by, Calendar.managed_file)
    ).all():
        found[("calendar", (name,))] = (by, path)
    tables: tuple[tuple[type[TaskGroup] | type[Task], Kind], ...] = (
        (TaskGroup, "group"),
        (Task, "task"),
    )
    for table, kind in tables:
        rows = session.exec(
            select(table.instance, table.name, table.managed_by, table.managed_file).where(
                col(table.managed_by).is_not(None)
            )
        ).all()
        for instance, name, by, path in rows:
            if granted is None or instance in granted:
                found[(kind, (instance, name))] = (by, path)
    return found


def desired_state(
    current: Snapshot,
    files: Snapshot,
    managed: Owners,
    *,
    source: str,
    prune: bool,
    unread: Collection[tuple[Kind, Key]] = (),
) -> Snapshot:
    """`unread`: items the files name but could not read; never pruned (the plan is refused
    for them, and their absence must not read as a deletion to check)."""
    desired = current.copy()
    for kind, items in files.items.items():
        desired.items[kind].update(items)
    held_groups = set(files.of("group"))
    for kind in ("dependency", "group_dependency"):
        wanted = files.of(kind)
        desired.items[kind] = {
            key: item
            for key, item in desired.of(kind).items()
            if key in wanted or (key[0], key[1]) not in held_groups
        }
    if prune:
        for kind in MANAGED_KINDS:
            desired.items[kind] = {
                key: item
                for key, item in desired.of(kind).items()
                if key in files.of(kind)
                or (kind, key) in unread
                or managed.get((kind, key), (None, None))[0] != source
            }
    _keep_secrets(current, files, desired)
    _drop_dangling(desired)
    return desired


def _keep_secrets(current: Snapshot, files: Snapshot, desired: Snapshot) -> None:
    """A task item that does not mention `secrets` keeps those the server holds."""
    for key, item in files.of("task").items():
        if "secrets" not in item:
            held = (current.of("task").get(key) or {}).get("secrets") or {}
            desired.items["task"][key] = {**item, "secrets": dict(held)}


def _drop_dangling(desired: Snapshot) -> None:
    """Tasks of a pruned group stay, standalone (as deleting a group leaves them); edges whose
    ends left their group, and waits on a group that goes, go."""
    groups, tasks = desired.of("group"), desired.of("task")
    for key, item in list(tasks.items()):
        if item["group"] is not None and (item["instance"], item["group"]) not in groups:
            tasks[key] = {**item, "group": None}
    desired.items["dependency"] = {
        key: item
        for key, item in desired.of("dependency").items()
        if all((tasks.get((key[0], end)) or {}).get("group") == key[1] for end in key[2:])
    }
    desired.items["group_dependency"] = {
        key: item
        for key, item in desired.of("group_dependency").items()
        if (key[0], key[1]) in groups and (key[2], key[3]) in groups
    }


def plan_definitions(
    session: Session,
    bundle: Bundle,
    *,
    source: str,
    commit: str | None,
    prune: bool,
    granted: Collection[str] | None,
) -> DefinitionsPlan:
    """Check the files against the database; ImportRefused with every problem, located: those
    of the files' own fields and those of the state, together (the state is checked on the items
    that could be read)."""
    current = database_snapshot(session, granted)
    managed = owners(session, granted)
    files = bundle.content.snapshot
    unread = bundle.unread
    desired = desired_state(current, files, managed, source=source, prune=prune, unread=unread)
    checker = Checker(
        unread=unread,
        desired=desired,
        current=current,
        file=bundle.content,
        agents=known_agents(session),
        granted=granted,
        problems=[],
        pools={(p.instance, p.name): p.slots for p in session.exec(select(Pool)).all()},
    )
    found = check_state(checker) + _lost_calendars(current, desired)
    problems: list[ImportProblem] = bundle.problems + bundle.locate(found)
    if problems:
        raise ImportRefused(422, problems)
    adopted = [
        (kind, key)
        for kind in MANAGED_KINDS
        for key in sorted(files.of(kind))
        if key in current.of(kind) and managed.get((kind, key), (None, None))[0] != source
    ]
    moved = [
        (kind, key)
        for kind in MANAGED_KINDS
        for key in sorted(files.of(kind))
        if managed.get((kind, key), (None, None)) not in ((source, bundle.holders[(kind, key)]),)
        and managed.get((kind, key), (None, None))[0] == source
    ]
    return DefinitionsPlan(
        moved=moved,
        source=source,
        commit=commit,
        prune=prune,
        plan=Plan(current=current, desired=desired, diff=diff(current, desired)),
        bundle=bundle,
        owners=managed,
        adopted=adopted,
    )


def _lost_calendars(current: Snapshot, desired: Snapshot) -> list[ImportProblem]:
    """A calendar that goes (pruned) must not be left in a schedule that stays."""
    gone = {key[0] for key in current.of("calendar")} - {k[0] for k in desired.of("calendar")}
    found: list[ImportProblem] = []
    for kind in ("group", "task"):
        for key, item in sorted(desired.of(kind).items()):
            schedules = [item.get("schedule") or {}, *(item.get("schedules") or [])]
            for name in sorted({s.get("calendar") for s in schedules} & gone):
                found.append(
                    problem(
                        f"{kind} {describe(kind, key)}",
                        "schedule.calendar",
                        f"uses calendar {name!r}, which would be deleted",
                    )
                )
    return found


def check_source_name(source: str) -> None:
    if not source or len(source) > 300 or not source.isprintable():
        raise ImportRefused(
            422, [problem("source", "source", "1 to 300 printable characters, e.g. file:defs")]
        )
