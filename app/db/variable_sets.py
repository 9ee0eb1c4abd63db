"""Variable set rows, the reference check of `variable_sets` on tasks and groups, and the
variables a run gets: its group's sets then its task's, a later set winning a name.

A run's variables are pinned when it is dispatched: `spec["_variables"]` holds them sealed
(plain and secret together, one Fernet token), so the values the command got are the
values its output is masked with, whatever happens to the sets afterwards. Nothing of them
is ever stored in plain text on the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from app.db.sealing import box_of, box_or_none
from app.db.tables import GroupRun, Run, Task, TaskGroup
from app.db.variable_set_tables import VariableSet
from app.env_secrets import EnvBox, EnvValues
from app.errors import InvalidInput

PINNED = "_variables"  # run.spec bookkeeping key (not in the spec digest)


@dataclass(frozen=True)
class RunVariables:
    plain: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def all(self) -> dict[str, str]:
        """NAME -> value, for `${var.NAME}` (a name is plain or secret, never both)."""
        return {**self.plain, **self.secrets}

    def environment(self) -> dict[str, str]:
        """`ALMANAC_VAR_<NAME>` (name upper-cased) for every variable, secrets included:
        the environment is how a secret best reaches a command (not its argv)."""
        return {f"ALMANAC_VAR_{name.upper()}": value for name, value in self.all().items()}


def set_secrets(row: VariableSet, box: EnvBox | None) -> dict[str, str]:
    if not row.secrets_sealed:
        return {}
    if box is None:
        raise InvalidInput("secrets", "no environment key is bound to this database")
    return box.open(row.secrets_sealed).secrets


def find_set(session: Session, instance: str, name: str) -> VariableSet | None:
    return session.exec(
        select(VariableSet).where(VariableSet.instance == instance, VariableSet.name == name)
    ).first()


def check_variable_sets(session: Session, names: Sequence[str], instance: str) -> None:
    """Every name is a set of `instance` (a set of another instance is not one)."""
    if not names:
        return
    if len(set(names)) != len(names):
        raise InvalidInput("variable_sets", "a set is named twice")
    found = set(
        session.exec(
            select(VariableSet.name).where(
                VariableSet.instance == instance, col(VariableSet.name).in_(list(names))
            )
        ).all()
    )
    for name in names:
        if name not in found:
            raise InvalidInput(
                "variable_sets", f"no variable set named {name!r} in instance {instance!r}"
            )


def users_of(session: Session, row: VariableSet) -> list[str]:
    """'task NAME' / 'group NAME' of the instance that name the set."""
    users = []
    for kind, table in (("task", Task), ("group", TaskGroup)):
        stmt = select(table.name, table.variable_sets).where(table.instance == row.instance)
        users += [f"{kind} {n}" for n, sets in session.exec(stmt).all() if row.name in sets]
    return users


def merged_variables(session: Session, run: Run) -> RunVariables:
    """The sets of the run's group, then of its task, as they are now."""
    task = session.get(Task, run.task_id) if run.task_id else None
    group_id = task.group_id if task is not None else None
    if run.group_run_id is not None:
        group_run = session.get(GroupRun, run.group_run_id)
        group_id = group_run.group_id if group_run is not None else group_id
    group = session.get(TaskGroup, group_id) if group_id is not None else None
    names = [*(group.variable_sets if group else []), *(task.variable_sets if task else [])]
    if not names:
        return RunVariables()
    instance = task.instance if task is not None else run.instance
    rows = {
        r.name: r
        for r in session.exec(
            select(VariableSet).where(
                VariableSet.instance == instance, col(VariableSet.name).in_(names)
            )
        ).all()
    }
    plain: dict[str, str] = {}
    secrets: dict[str, str] = {}
    box = box_or_none(session)
    for name in names:
        row = rows.get(name)
        if row is None:  # deleted since (deletion is refused while in use): nothing to add
            continue
        for key, value in row.variables.items():
            secrets.pop(key, None)
            plain[key] = value
        for key, value in set_secrets(row, box).items():
            plain.pop(key, None)
            secrets[key] = value
    return RunVariables(plain=plain, secrets=secrets)


def pin_variables(session: Session, run: Run) -> RunVariables:
    """Fix the run's variables for this dispatch (sealed in its spec) and return them."""
    values = merged_variables(session, run)
    spec = {k: v for k, v in run.spec.items() if k != PINNED}
    if values.plain or values.secrets:
        spec[PINNED] = box_of(session).seal(EnvValues(env=values.plain, secrets=values.secrets))
    if spec != run.spec:
        run.spec = spec
    return values


def run_variables(session: Session, run: Run) -> RunVariables:
    """The variables the run was dispatched with, or those it would get now."""
    token = run.spec.get(PINNED)
    if token:
        opened = box_of(session).open(str(token))
        return RunVariables(plain=opened.env, secrets=opened.secrets)
    return merged_variables(session, run)
