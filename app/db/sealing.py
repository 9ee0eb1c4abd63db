"""Sealed environments in task rows and run specs (see app/env_secrets.py).

A task keeps its `env` and secret values in `task.env_sealed`; a run's spec copies that token
(`spec["env_sealed"]`), so creating runs never decrypts. Rows written before sealing existed
carry a plain `env` (task column or spec key): they are read as such, and
`seal_plaintext` (app/db/seal_legacy.py, run at server start) seals them.

The key ring belongs to the database's engine: `bind_box` is called by the composition root,
and code holding a session finds it with `box_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from app.db.tables import Task
from app.domain import run_spec
from app.env_secrets import EnvBox, EnvValues
from app.errors import InvalidInput
from app.secrets import SecretError

_BOXES: WeakKeyDictionary[Engine, Callable[[], EnvBox]] = WeakKeyDictionary()
# Set by migration 0004 on runs stored before sealing: `seal_plaintext` handles them
# (app/db/seal_legacy.py).
LEGACY = "legacy"


def bind_box(engine: Engine, box: Callable[[], EnvBox]) -> None:
    _BOXES[engine] = box


def box_or_none(session: OrmSession) -> EnvBox | None:
    """The key ring of the session's database; None where none is bound (bare test engines:
    only sealed rows need one, and reading them then fails clearly)."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    factory = _BOXES.get(engine) if isinstance(engine, Engine) else None
    return factory() if factory is not None else None


def box_of(session: OrmSession) -> EnvBox:
    box = box_or_none(session)
    if box is None:
        raise SecretError("no environment key is bound to this database")
    return box


def task_env(task: Task, box: EnvBox | None) -> EnvValues:
    if task.env_sealed:
        if box is None:
            raise SecretError("no environment key is bound to this database")
        return box.open(task.env_sealed)
    return EnvValues(env=dict(task.env or {}))


def spec_env(spec: Mapping[str, Any], box: EnvBox | None) -> EnvValues:
    token = spec.get(run_spec.SEALED)
    if token:
        if box is None:
            raise SecretError("no environment key is bound to this database")
        return box.open(str(token))
    return EnvValues(env=dict(spec.get("env") or {}))


def resolve_secrets(given: Mapping[str, str | None], stored: Mapping[str, str]) -> dict[str, str]:
    """`given` is the whole set of secret names: a value sets it, null keeps the stored one."""
    result = {}
    for name, value in given.items():
        if value is None:
            if name not in stored:
                raise InvalidInput(
                    f"secrets.{name}",
                    "no value is stored for it (exports leave secret values out): give the value",
                )
            value = stored[name]
        result[name] = value
    return result


def write_task_env(session: Session, task: Task, changed: Mapping[str, Any]) -> None:
    """Apply `env` (replaces) and `secrets` (see resolve_secrets) from `changed`, when
    present, to the task's sealed environment."""
    if "env" not in changed and "secrets" not in changed:
        return
    needs_box = bool(task.env_sealed or changed.get("env") or changed.get("secrets"))
    box = box_of(session) if needs_box else None
    current = task_env(task, box)
    env = dict(changed.get("env") or {}) if "env" in changed else current.env
    secrets = current.secrets
    if changed.get("secrets") is not None:
        secrets = resolve_secrets(changed["secrets"], current.secrets)
    both = sorted(set(env) & set(secrets))
    if both:
        raise InvalidInput(f"secrets.{both[0]}", "is also in env: a name is either")
    sealed = box.seal(EnvValues(env=env, secrets=secrets)) if box is not None else None
    task.env_sealed, task.env = sealed, {}
