"""runs: what each asks of the admission gates, in plain columns

`run.pool`, `run.pool_slots`, `run.locks`, `run.cores`, `run.gpus`: what the run's spec asks
of the gates (pool, slots, locks; the cores and GPUs its instance's quota counts), written
when a run is made (app/domain/admission.py `admission_columns`). A dispatch pass reads them
for the thousands of runs on agents instead of their spec's JSON. `locks` is one line per
lock, `x` (exclusive) or `s` (shared) then the name, in the spec's order.

Existing rows are filled from their spec, in batches; a run that asks nothing keeps the
defaults (no pool, 1 slot, no lock, 0 cores, 0 GPUs) and is not written. The spec keeps its
keys (an approval is of the whole spec), so a downgrade only drops the columns.

`ix_run_held`: a partial index of the runs agents hold (TRIGGER to PAUSED), which the pass
reads whole; on PostgreSQL it includes every column the pass reads of them, so they come
from the index alone (not the runs' wide rows, their specs inline).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The runs agents hold (app/db/tables.py `HELD`) and what a pass reads of them.
_HELD = "status IN ('PAUSED', 'RUNNING', 'STARTED', 'TRIGGER')"
_HELD_COLUMNS = (
    "instance",
    "agent",
    "task_id",
    "allocation",
    "pool",
    "pool_slots",
    "locks",
    "cores",
    "gpus",
)
_BATCH = 5000
_KEYS = ("pool", "locks", "cpus", "gpus", "gpu_count")  # a spec naming none asks nothing
_DEFAULTS = {"pool": None, "pool_slots": 1, "locks": None, "cores": 0.0, "gpus": 0}
_run = sa.table(
    "run",
    sa.column("id", sa.Integer),
    sa.column("spec", sa.JSON),
    sa.column("pool", sa.String),
    sa.column("pool_slots", sa.Integer),
    sa.column("locks", sa.String),
    sa.column("cores", sa.Float),
    sa.column("gpus", sa.Integer),
)


def asked(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of a spec, as `admission_columns` (and `ask_of`) made them at this
    revision."""
    locks = [
        ("x" if lock.get("mode") == "exclusive" else "s") + str(lock["name"])
        for lock in spec.get("locks") or ()
    ]
    gpus = spec.get("gpus") or []
    return {
        "pool": spec.get("pool") or None,
        "pool_slots": int(spec.get("pool_slots") or 1),
        "locks": "\n".join(locks) or None,
        "cores": float(spec.get("cpus") or 0),
        "gpus": len(gpus) if gpus else int(spec.get("gpu_count") or 0),
    }


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pool", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("pool_slots", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("locks", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("cores", sa.Float(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("gpus", sa.Integer(), server_default="0", nullable=False))
    _fill(op.get_bind())
    op.create_index(
        "ix_run_held",
        "run",
        ["id"],
        postgresql_include=list(_HELD_COLUMNS),
        postgresql_where=sa.text(_HELD),
        sqlite_where=sa.text(_HELD),
    )


def _fill(bind: sa.Connection) -> None:
    """Each run's columns from its spec, read as text a batch at a time (by id), only the
    runs whose spec names an admission key."""
    text = sa.cast(_run.c.spec, sa.String)
    names = sa.or_(*(text.contains(f'"{key}"') for key in _KEYS))
    update = (
        _run.update()
        .where(_run.c.id == sa.bindparam("run_id"))
        .values(**{name: sa.bindparam(name) for name in _DEFAULTS})
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(_run.c.id, text)
            .where(_run.c.id > last, names)
            .order_by(_run.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        changed = []
        for run_id, spec_text in rows:
            values = _of_text(spec_text)
            if values != _DEFAULTS:
                changed.append({"run_id": run_id, **values})
        if changed:
            bind.execute(update, changed)
        last = rows[-1][0]


def _of_text(text: str | None) -> dict[str, Any]:
    """The columns of a spec stored as `text`; a spec not of the shape runs are made with
    (none should be) asks nothing rather than stopping the upgrade."""
    try:
        spec = json.loads(text) if text else None
        return asked(spec) if isinstance(spec, dict) else _DEFAULTS
    except (ValueError, TypeError, KeyError, AttributeError):
        return _DEFAULTS


def downgrade() -> None:
    op.drop_index("ix_run_held", table_name="run")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("gpus")
        batch_op.drop_column("cores")
        batch_op.drop_column("locks")
        batch_op.drop_column("pool_slots")
        batch_op.drop_column("pool")
