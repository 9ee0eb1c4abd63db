"""runs: sort indexes for Task Runs; log chunks: the time each was received

`ix_run_started_id` (started_at, id) and `ix_run_finished_id` (finished_at, id) let Task
Runs (and `GET /runs`) sorted by started or finished read a page down an index; runs without
that time come after them, read by id (app/services/run_search.py). `ix_run_agent_id`
(agent, id) replaces `ix_run_agent`: runs of one agent, newest first, and the agent sort,
read down it.

`log_chunk.received_at`: when the server stored the chunk, the time the log viewer shows
beside each line (null for chunks stored before this revision).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.types

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_run_started_id", "run", ["started_at", "id"])
    op.create_index("ix_run_finished_id", "run", ["finished_at", "id"])
    op.create_index("ix_run_agent_id", "run", ["agent", "id"])
    op.drop_index("ix_run_agent", table_name="run")
    with op.batch_alter_table("log_chunk", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("received_at", app.db.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("log_chunk", schema=None) as batch_op:
        batch_op.drop_column("received_at")
    op.create_index("ix_run_agent", "run", ["agent"])
    op.drop_index("ix_run_agent_id", table_name="run")
    op.drop_index("ix_run_finished_id", table_name="run")
    op.drop_index("ix_run_started_id", table_name="run")
