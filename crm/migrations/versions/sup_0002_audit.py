"""supervisor actions: the audit log (listen, whisper, barge, pause, log out, hang up)

Revision ID: sup_0002
Revises: sup_0001
Create Date: 2026-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "sup_0002"
down_revision = "sup_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supervisor_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer()),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("agent", sa.String(128)),
        sa.Column("agent_name", sa.String(255)),
        sa.Column("queue", sa.String(80)),
        sa.Column("linkedid", sa.String(64)),
        sa.Column("channel", sa.String(255)),
        sa.Column("reason", sa.String(255)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("client_ip", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_supervisor_audit"),
    )
    op.create_index("ix_supervisor_audit_at", "supervisor_audit", ["at"])
    op.create_index("ix_supervisor_audit_agent_at", "supervisor_audit", ["agent", "at"])


def downgrade() -> None:
    op.drop_table("supervisor_audit")
