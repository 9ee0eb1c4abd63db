"""heat maps: a task's and a group's runs by business date read from an index alone

`ix_run_task_day` (task_id, business_date, status) and `ix_group_run_group_day`
(group_id, business_date, status) let the heat map of a task or a group count a year of
outcomes per date without reading a row (app/services/heat_maps.py).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_run_task_day", "run", ["task_id", "business_date", "status"])
    op.create_index("ix_group_run_group_day", "group_run", ["group_id", "business_date", "status"])


def downgrade() -> None:
    op.drop_index("ix_group_run_group_day", table_name="group_run")
    op.drop_index("ix_run_task_day", table_name="run")
