"""The secret values a run's command is given: what is masked wherever the run's own words
are kept (its output, its results)."""

from __future__ import annotations

from sqlmodel import Session

from app.db.sealing import box_or_none, spec_env
from app.db.tables import Run
from app.db.variable_sets import run_variables
from app.domain.secret_mask import Secrets


def run_secrets(session: Session, run: Run) -> Secrets:
    """Every secret value the run's command gets: its task's secrets and its variable sets'
    (as pinned for its dispatch)."""
    box = box_or_none(session)
    values = list(spec_env(run.spec, box).secrets.values())
    values += run_variables(session, run).secrets.values()
    return Secrets.of(values)
