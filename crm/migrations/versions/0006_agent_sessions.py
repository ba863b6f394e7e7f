"""The sign-in book of the agent sessions report

- `agent_session_events`: panel sign-ins and sign-outs (`user_id`) and queue logins and
  logouts (`agent`, the interface key), each with its time.

Revision ID: 0006_agent_sessions
Revises: 0005_agent_aliases
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0006_agent_sessions"
down_revision = "0005_agent_aliases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_session_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer()),
        sa.Column("agent", sa.String(128), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_agent_session_events"),
    )
    op.create_index("ix_agent_session_events_at", "agent_session_events", ["at"])
    op.create_index(
        "ix_agent_session_events_user_id_at", "agent_session_events", ["user_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_agent_session_events_user_id_at", "agent_session_events")
    op.drop_index("ix_agent_session_events_at", "agent_session_events")
    op.drop_table("agent_session_events")
