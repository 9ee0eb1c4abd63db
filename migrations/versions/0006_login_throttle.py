"""atomic login throttle, per-source throttle

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Failed logins per client address: the address is locked, the account only slowed.
    op.create_table(
        "login_source",
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )
    with op.batch_alter_table("login_source", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_source_window_start"), ["window_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("login_source", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_source_window_start"))
    op.drop_table("login_source")
