"""group runs: the version of their group's definition they used

`group_run.group_version`: the group's definition version (app/db/versions.py) when the group
run was made, and again when it starts (a planned run that starts after an edit used the edit).
Null for group runs made before this revision, as `run.task_version` for runs before history.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("group_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("group_run", schema=None) as batch_op:
        batch_op.drop_column("group_version")
