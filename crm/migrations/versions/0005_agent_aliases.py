"""The answering agent's other names on the call record

- `calls.agent_aliases`: the names Asterisk also used for the agent who answered
  (FreePBX's queue member `Local/201@from-queue/n` rings the phone `PJSIP/201`), a JSON
  list; null for the calls stored before it was kept (read as no other name).

Revision ID: 0005_agent_aliases
Revises: 0004_asterisk_books
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_agent_aliases"
down_revision = "0004_asterisk_books"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("agent_aliases", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("agent_aliases")
