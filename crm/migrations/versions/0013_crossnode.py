"""Cluster messages: live messages between nodes too large for a NOTIFY payload

- `cluster_messages`: the body of a message one node sends the others (screen pops with
  their card, live view updates) when it does not fit in PostgreSQL's NOTIFY payload
  (8000 bytes); the NOTIFY then carries the row's id. Rows are deleted after a few
  minutes by the node that wrote them. Used only on PostgreSQL (`trubka.cluster`).

Revision ID: 0013_crossnode
Revises: 0012_admin_people
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0013_crossnode"
down_revision = "0012_admin_people"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_index("ix_cluster_messages_created_at", "cluster_messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_cluster_messages_created_at", table_name="cluster_messages")
    op.drop_table("cluster_messages")
