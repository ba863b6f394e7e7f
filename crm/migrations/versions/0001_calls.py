"""calls: one row per finished call

Revision ID: 0001_calls
Revises:
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0001_calls"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("caller_number", sa.String(64)),
        sa.Column("caller_name", sa.String(255)),
        sa.Column("called_number", sa.String(64)),
        sa.Column("queue", sa.String(80)),
        sa.Column("agent_interface", sa.String(128)),
        sa.Column("agent_name", sa.String(255)),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime(), nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("routed_by", sa.String(32)),
        sa.Column("routing_reason", sa.String(512)),
        sa.Column("recording_file", sa.String(512)),
        sa.Column("queue_hold_seconds", sa.Integer()),
        sa.Column("queue_talk_seconds", sa.Integer()),
        sa.Column("agents", sa.JSON(), nullable=False),
        sa.Column("contact_id", sa.Integer()),
        sa.Column("ended_during_outage", sa.Boolean(), nullable=False),
        sa.Column("timeline", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
        sa.UniqueConstraint("linkedid", name="uq_calls_linkedid"),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_caller_number_started_at", "calls", ["caller_number", "started_at"])
    op.create_index("ix_calls_called_number_started_at", "calls", ["called_number", "started_at"])
    op.create_index("ix_calls_queue_started_at", "calls", ["queue", "started_at"])
    op.create_index("ix_calls_agent_interface_started_at", "calls", ["agent_interface", "started_at"])
    op.create_index("ix_calls_contact_id_started_at", "calls", ["contact_id", "started_at"])


def downgrade() -> None:
    op.drop_table("calls")
