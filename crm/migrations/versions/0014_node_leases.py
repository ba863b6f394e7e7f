"""Leases of the tasks only one node may do at a time (several nodes on PostgreSQL)

- `node_leases`: one row per lease (`ami:<pbx>`: the node consuming that PBX's AMI),
  the node holding it, since when, and until when it holds unless renewed
  (`crm/node_leases.py`). Created on SQLite too, where it stays empty (one node).

Revision ID: 0014_node_leases
Revises: 0012_admin_people
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0014_node_leases"
down_revision = "0013_crossnode"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_leases",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("renewed_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_node_leases"),
    )


def downgrade() -> None:
    op.drop_table("node_leases")
