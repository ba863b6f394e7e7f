"""routing: covering indexes for "the last answered call with this contact/company"

The routing facts read the agent and the answer time of a customer's last answered
calls for every incoming call; with these columns in the (partial) index the read is one
index range scan and never touches the 10-million-row table. They replace the narrower
indexes of crm_0001 (same leading columns, same condition).

Revision ID: route_0002
Revises: route_0001
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "route_0002"
down_revision = "route_0001"
branch_labels = None
depends_on = None

_ANSWERED = sa.text("disposition = 'answered'")
_COVER = ["started_at", "agent_interface", "answered_at", "disposition"]


def upgrade() -> None:
    for subject in ("contact", "company"):
        op.create_index(
            f"ix_calls_{subject}_answered_cover",
            "calls",
            [f"{subject}_id", *_COVER],
            sqlite_where=_ANSWERED,
            postgresql_where=_ANSWERED,
        )
        op.drop_index(f"ix_calls_{subject}_answered", "calls")


def downgrade() -> None:
    for subject in ("contact", "company"):
        op.create_index(
            f"ix_calls_{subject}_answered",
            "calls",
            [f"{subject}_id", "started_at"],
            sqlite_where=_ANSWERED,
            postgresql_where=_ANSWERED,
        )
        op.drop_index(f"ix_calls_{subject}_answered_cover", "calls")
