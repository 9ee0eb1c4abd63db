"""agent tokens bound to one agent identity

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 08:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agent_token", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agent_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    # Existing tokens are bound to the name they were made with (the contract's `name` is the
    # agent's), the built-in agent's `local:<host>` to `<host>`: a token used under another
    # name is refused from now on, never bound to whoever connects first.
    op.execute(
        "UPDATE agent_token SET agent_name = CASE WHEN name LIKE 'local:%' "
        "THEN substr(name, 7) ELSE name END"
    )
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_ended_attempt", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("agent_ended_attempt")
    with op.batch_alter_table("agent_token", schema=None) as batch_op:
        batch_op.drop_column("agent_name")
