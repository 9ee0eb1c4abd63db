"""run history at scale: indexes that let the dashboard read counts from the index alone

`ix_run_status_trigger` (status, trigger_time) serves the next runs due (IDLE by trigger
time), the count of planned runs and per-status counts over a time range;
`ix_run_trigger_status` (trigger_time, status) replaces `ix_run_trigger_time` (its prefix)
and covers the last day's counts per status and per hour without reading a run row.

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_run_status_trigger", "run", ["status", "trigger_time"])
    op.create_index("ix_run_trigger_status", "run", ["trigger_time", "status"])
    op.drop_index("ix_run_trigger_time", table_name="run")


def downgrade() -> None:
    op.create_index("ix_run_trigger_time", "run", ["trigger_time"])
    op.drop_index("ix_run_trigger_status", table_name="run")
    op.drop_index("ix_run_status_trigger", table_name="run")
