"""What a reader sees of environments: viewers get the names with masked values, writers
and up the non-secret values (an approver must see a `PERL5OPT`), nobody a secret's value
(its name and "set" show it is there)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.db.sealing import box_or_none, spec_env, task_env
from app.db.tables import Run, Task
from app.domain import run_spec
from app.domain.roles import Role, role_at_least
from app.env_secrets import EnvBox
from app.services.runs_view import run_public


def reveals_env(role: str) -> bool:
    return role_at_least(role, Role.USER)


def _box(row: Task, sealed: bool) -> EnvBox | None:
    session = Session.object_session(row)
    return box_or_none(session) if sealed and session is not None else None


def task_env_fields(task: Task, reveal: bool) -> dict[str, dict[str, str]]:
    values = task_env(task, _box(task, bool(task.env_sealed)))
    return {"env": values.shown_env(reveal), "secrets": values.shown_secrets()}


def run_spec_fields(run: Run, reveal: bool, box: EnvBox | None) -> dict[str, Any]:
    """`spec` as shown, and `spec_digest`: the one of its submission (what an approval
    names), else the digest of the spec as it is."""
    values = spec_env(run.spec, box)
    shown = run_spec.shown(run.spec, values.shown_env(reveal), values.shown_secrets())
    stored = run.spec_digest
    digest = stored if stored and len(stored) == 64 else run_spec.digest(run.spec)
    return {"spec": shown, "spec_digest": digest}


def audited_run(session: Session, run: Run) -> dict[str, Any]:
    """A run as its audit rows record it: the public fields and the whole spec that runs
    (env values shown, as to an approver; secret values never)."""
    return {
        **run_public(run).model_dump(mode="json"),
        **run_spec_fields(run, True, box_or_none(session)),
    }
