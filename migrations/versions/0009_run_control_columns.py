"""a run's control flags are columns, not keys of its spec

`_dispatches` (starts sent for the attempt) and `_ignore_upstreams` (forced past its
upstreams) were kept in the run's `spec` JSON; they become `run.dispatches` and
`run.ignore_upstreams`, and the spec keeps only what runs (and the approved digest).
Downgrading puts them back into the spec.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DISPATCHES = "_dispatches"
_IGNORE_UPSTREAMS = "_ignore_upstreams"
_run = sa.table(
    "run",
    sa.column("id", sa.Integer),
    sa.column("spec", sa.JSON),
    sa.column("dispatches", sa.Integer),
    sa.column("ignore_upstreams", sa.Boolean),
)


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dispatches", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("ignore_upstreams", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    bind = op.get_bind()
    for run_id, spec in bind.execute(sa.select(_run.c.id, _run.c.spec)):
        if not isinstance(spec, dict) or not ({_DISPATCHES, _IGNORE_UPSTREAMS} & spec.keys()):
            continue
        kept = {k: v for k, v in spec.items() if k not in (_DISPATCHES, _IGNORE_UPSTREAMS)}
        bind.execute(
            _run.update()
            .where(_run.c.id == run_id)
            .values(
                spec=kept,
                dispatches=int(spec.get(_DISPATCHES) or 0),
                ignore_upstreams=bool(spec.get(_IGNORE_UPSTREAMS)),
            )
        )


def downgrade() -> None:
    bind = op.get_bind()
    flagged = sa.or_(_run.c.dispatches != 0, _run.c.ignore_upstreams == sa.true())
    rows = bind.execute(
        sa.select(_run.c.id, _run.c.spec, _run.c.dispatches, _run.c.ignore_upstreams).where(flagged)
    ).all()
    for run_id, spec, dispatches, ignore_upstreams in rows:
        back: dict[str, Any] = dict(spec or {})
        if dispatches:
            back[_DISPATCHES] = dispatches
        if ignore_upstreams:
            back[_IGNORE_UPSTREAMS] = True
        bind.execute(_run.update().where(_run.c.id == run_id).values(spec=back))
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("ignore_upstreams")
        batch_op.drop_column("dispatches")
