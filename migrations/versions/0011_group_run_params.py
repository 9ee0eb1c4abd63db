"""group run parameters: the values given when a group run was forced, which its task runs
receive (with the group's and the tasks' declared defaults)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("group_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("params", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("group_run", schema=None) as batch_op:
        batch_op.drop_column("params")
