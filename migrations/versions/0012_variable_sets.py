"""variable sets per instance; log chunks keep the agent's stream position (masked output)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "variable_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("instance", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("secrets_sealed", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", app.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance", "name", name="uq_variable_set_instance_name"),
    )
    op.create_index("ix_variable_set_instance", "variable_set", ["instance"])
    with op.batch_alter_table("log_chunk", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_end", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_chunk", schema=None) as batch_op:
        batch_op.drop_column("source_end")
    op.drop_index("ix_variable_set_instance", table_name="variable_set")
    op.drop_table("variable_set")
