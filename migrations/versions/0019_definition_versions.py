"""history: definition versions of tasks, groups and calendars; the version a run used

Existing tasks, groups and calendars get their version 1 ("baseline") when the server next
starts (app/db/versions.py `record_baselines`): their definitions hold sealed environments
whose key the migration does not have. Existing runs name no version.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY_LIST = sa.text("'[]'")
_VERSIONED = ("task", "task_group", "calendar")


def upgrade() -> None:
    op.create_table(
        "definition_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("instance", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("env_sealed", sa.String(), nullable=True),
        sa.Column("hidden_changes", sa.JSON(), server_default=_EMPTY_LIST, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "object_id", "number", name="uq_definition_version"),
    )
    op.create_index("ix_definition_version_instance", "definition_version", ["instance"])
    for table in _VERSIONED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("version", sa.Integer(), server_default="0", nullable=False)
            )
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("task_version")
    for table in _VERSIONED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("version")
    op.drop_index("ix_definition_version_instance", table_name="definition_version")
    op.drop_table("definition_version")
