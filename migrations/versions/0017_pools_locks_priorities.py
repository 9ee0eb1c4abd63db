"""admission: pools, per-instance quotas, priorities and locks on tasks, groups and runs

Existing tasks and groups draw from no pool, hold no lock and have priority 0 (a task's null
priority takes its group's); existing runs have priority 0.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY_LIST = sa.text("'[]'")


def upgrade() -> None:
    op.create_table(
        "pool",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("instance", sa.String(length=100), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("placement", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance", "name", name="uq_pool_instance_name"),
    )
    op.create_index("ix_pool_instance", "pool", ["instance"])
    op.create_table(
        "instance_quota",
        sa.Column("instance", sa.String(length=100), nullable=False),
        sa.Column("max_runs", sa.Integer(), nullable=True),
        sa.Column("max_cores", sa.Float(), nullable=True),
        sa.Column("max_gpus", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("instance"),
    )
    with op.batch_alter_table("task_group", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pool", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("pool_slots", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("locks", sa.JSON(), server_default=_EMPTY_LIST, nullable=False)
        )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pool", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("pool_slots", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("locks", sa.JSON(), server_default=_EMPTY_LIST, nullable=False)
        )
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("queue_rank", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index("ix_run_queue", ["status", "queue_rank", "trigger_time", "id"])


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index("ix_run_queue")
        batch_op.drop_column("queue_rank")
        batch_op.drop_column("priority")
    for table in ("task", "task_group"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("locks")
            batch_op.drop_column("priority")
            batch_op.drop_column("pool_slots")
            batch_op.drop_column("pool")
    op.drop_table("instance_quota")
    op.drop_index("ix_pool_instance", table_name="pool")
    op.drop_table("pool")
