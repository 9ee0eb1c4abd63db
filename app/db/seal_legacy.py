"""Rows stored before environments were sealed at rest (tasks with a plain `env`, runs whose
spec digest is still `LEGACY`), sealed once at server start. Apart from app/db/sealing.py,
which the definition history reads, so that module does not depend on the engine."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import col, select

from app.db.engine import session_scope
from app.db.sealing import LEGACY, box_of
from app.db.tables import Run, Task
from app.domain import run_spec
from app.env_secrets import EnvValues


def seal_plaintext(engine: Engine, batch: int = 500) -> int:
    """Seal the plain environments of rows written before sealing; returns rows changed."""
    changed = 0
    with session_scope(engine) as session:
        for task in session.exec(select(Task).where(col(Task.env_sealed).is_(None))).all():
            if task.env:
                task.env_sealed = box_of(session).seal(EnvValues(env=dict(task.env)))
                task.env = {}
                changed += 1
    last = 0
    while True:
        with session_scope(engine) as session:
            rows = session.exec(
                select(Run)
                .where(col(Run.id) > last, Run.spec_digest == LEGACY)
                .order_by(col(Run.id))
                .limit(batch)
            ).all()
            for run in rows:
                spec = dict(run.spec)
                plain = spec.pop("env", None)
                if plain:
                    spec[run_spec.SEALED] = box_of(session).seal(EnvValues(env=dict(plain)))
                    run.spec = spec
                    changed += 1
                run.spec_digest = run_spec.digest(spec)
                last = run.id or 0
            done = len(rows) < batch
        if done:
            return changed
