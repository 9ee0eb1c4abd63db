"""task and run secrets, approval digests

`task.env_sealed` holds a task's env and secret values Fernet-sealed; `run.spec_digest` the
digest of a run's spec when it was submitted. The key is not known here, so existing plain
environments are sealed by the server at its next start (app/db/sealing.seal_plaintext):
runs stored before this revision are marked `legacy` for it. A downgrade drops the sealed
values (they cannot be decrypted here either).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("env_sealed", sa.String(), nullable=True))
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("spec_digest", sa.String(length=64), nullable=True))
    op.execute("UPDATE run SET spec_digest = 'legacy'")


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("spec_digest")
    with op.batch_alter_table("task") as batch:
        batch.drop_column("env_sealed")
