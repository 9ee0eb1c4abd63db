"""run context: business date, parameters, results and backfill on runs; declared
parameters and variable sets on tasks and groups

Existing runs keep a null business date (they were made before runs knew one); their
parameters and results are empty.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY_LIST = sa.text("'[]'")
_EMPTY_DICT = sa.text("'{}'")


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("business_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("params", sa.JSON(), server_default=_EMPTY_DICT, nullable=False)
        )
        batch_op.add_column(
            sa.Column("results", sa.JSON(), server_default=_EMPTY_DICT, nullable=False)
        )
        batch_op.add_column(sa.Column("backfill_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_run_business_date", ["business_date"])
        batch_op.create_index("ix_run_backfill_id", ["backfill_id"])
    for table in ("task", "task_group"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("params", sa.JSON(), server_default=_EMPTY_LIST, nullable=False)
            )
            batch_op.add_column(
                sa.Column("variable_sets", sa.JSON(), server_default=_EMPTY_LIST, nullable=False)
            )


def downgrade() -> None:
    for table in ("task_group", "task"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("variable_sets")
            batch_op.drop_column("params")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index("ix_run_backfill_id")
        batch_op.drop_index("ix_run_business_date")
        batch_op.drop_column("backfill_id")
        batch_op.drop_column("results")
        batch_op.drop_column("params")
        batch_op.drop_column("business_date")
