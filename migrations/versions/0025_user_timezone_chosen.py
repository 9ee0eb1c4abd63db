"""users: whether the timezone is the user's own choice

A user who has not chosen a zone sees times in their browser's zone (the web UI's
`almanac_tz` cookie). Existing users with a zone other than the default UTC chose it.

Revision ID: 0025
Revises: 0022
Create Date: 2026-12-07 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone_chosen", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE app_user SET timezone_chosen = (timezone <> 'UTC')")


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("timezone_chosen")
