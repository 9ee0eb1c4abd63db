"""calendar rules: holiday categories, and other calendars included or excluded

Existing calendars keep the library's default category (public) and combine nothing.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY_LIST = sa.text("'[]'")
_COLUMNS = ("categories", "include_calendars", "exclude_calendars")


def upgrade() -> None:
    with op.batch_alter_table("calendar", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(
                sa.Column(name, sa.JSON(), server_default=_EMPTY_LIST, nullable=False)
            )


def downgrade() -> None:
    with op.batch_alter_table("calendar", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
