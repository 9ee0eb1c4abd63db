"""backfills: a plan of dates per task or group, started a few at a time

Revision ID: 0013
Revises: 0012 (0010 before the run-context branch was merged in)
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString
_TS = app.db.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "backfill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("target_name", _STR(length=200), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("mode", _STR(length=10), nullable=False),
        sa.Column("order", _STR(length=10), nullable=False),
        sa.Column("max_concurrent", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", _STR(length=20), nullable=False),
        sa.Column("reason", _STR(), nullable=True),
        sa.Column("instance", _STR(length=100), nullable=False),
        sa.Column("created_by", _STR(length=100), nullable=True),
        sa.Column("created_at", _TS(timezone=True), nullable=True),
        sa.Column("updated_at", _TS(timezone=True), nullable=True),
        sa.Column("finished_at", _TS(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("backfill", schema=None) as batch_op:
        batch_op.create_index("ix_backfill_task_id", ["task_id"])
        batch_op.create_index("ix_backfill_group_id", ["group_id"])
        batch_op.create_index("ix_backfill_status", ["status"])
        batch_op.create_index("ix_backfill_instance", ["instance"])
    op.create_table(
        "backfill_date",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("backfill_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", _STR(length=10), nullable=False),
        sa.Column("reason", _STR(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("group_run_id", sa.Integer(), nullable=True),
        sa.Column("started_at", _TS(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["backfill_id"], ["backfill.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("backfill_id", "day", name="uq_backfill_day"),
    )
    with op.batch_alter_table("backfill_date", schema=None) as batch_op:
        batch_op.create_index("ix_backfill_date_backfill_id", ["backfill_id"])
        batch_op.create_index("ix_backfill_date_state", ["state"])
        batch_op.create_index("ix_backfill_date_run_id", ["run_id"])
        batch_op.create_index("ix_backfill_date_group_run_id", ["group_run_id"])


def downgrade() -> None:
    op.drop_table("backfill_date")
    op.drop_table("backfill")
