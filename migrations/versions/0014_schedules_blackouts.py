"""several schedules and blackout windows on tasks and groups

Existing tasks and groups keep their one schedule and have no blackouts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY_LIST = sa.text("'[]'")


def upgrade() -> None:
    for table in ("task", "task_group"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("schedules", sa.JSON(), server_default=_EMPTY_LIST, nullable=False)
            )
            batch_op.add_column(
                sa.Column("blackouts", sa.JSON(), server_default=_EMPTY_LIST, nullable=False)
            )


def downgrade() -> None:
    for table in ("task_group", "task"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("blackouts")
            batch_op.drop_column("schedules")
