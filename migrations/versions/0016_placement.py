"""placement: what each run holds on its agent (cores, memory, GPUs, NUMA node); tasks may
ask any N free GPUs and a NUMA node

Existing runs hold nothing recorded (null): they count as holding no cores, memory or GPUs
until they end. Existing tasks ask no GPU count and no NUMA node.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allocation", sa.JSON(), nullable=True))
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gpu_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("numa_node", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_column("numa_node")
        batch_op.drop_column("gpu_count")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("allocation")
