"""definitions as code: who manages a task, group or calendar; git sync sources

Existing tasks, groups and calendars are managed by no source (edited by hand).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MANAGED = ("calendar", "task_group", "task")


def upgrade() -> None:
    for table in _MANAGED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("managed_by", sa.String(length=300), nullable=True))
            batch_op.add_column(sa.Column("managed_file", sa.String(length=1000), nullable=True))
            batch_op.add_column(sa.Column("managed_commit", sa.String(length=100), nullable=True))
            batch_op.create_index(f"ix_{table}_managed_by", ["managed_by"])
    op.create_table(
        "sync_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("branch", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("poll_seconds", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("run_as", sa.String(length=100), nullable=False),
        sa.Column("credentials_encrypted", sa.String(), nullable=True),
        sa.Column("webhook_secret_encrypted", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_commit", sa.String(length=100), nullable=True),
        sa.Column("last_applied_commit", sa.String(length=100), nullable=True),
        sa.Column("last_applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_applied_by", sa.String(length=200), nullable=True),
        sa.Column("last_plan", sa.String(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_commit", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("sync_source")
    for table in _MANAGED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_managed_by")
            batch_op.drop_column("managed_commit")
            batch_op.drop_column("managed_file")
            batch_op.drop_column("managed_by")
