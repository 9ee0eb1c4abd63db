"""integrations owned by an instance (NULL: a global integration, kept for existing rows)

Calendars stay global (schedules and exports name them); only admins of every instance edit
them, which needs no column.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("integration") as batch:
        batch.add_column(sa.Column("instance", sa.String(length=100), nullable=True))
        batch.create_index("ix_integration_instance", ["instance"])


def downgrade() -> None:
    with op.batch_alter_table("integration") as batch:
        batch.drop_index("ix_integration_instance")
        batch.drop_column("instance")
