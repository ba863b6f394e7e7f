"""Administration: routing rules kept in the database, and the admin's settings

- `routing_rules_versions`: every saved version of the routing rules document (JSON and
  the TOML text it was written as), who saved it and when; the newest is in force.
- `admin_settings`: the lists and targets an admin edits in the browser (pause reasons,
  wrap-up codes, service-level targets, recording retention), one JSON value per key.

Revision ID: 0009_admin_rules
Revises: 0008_callback_closed_by_call
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0009_admin_rules"
down_revision = "0008_callback_closed_by_call"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_rules_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("saved_at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("note", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_routing_rules_versions"),
    )
    op.create_table(
        "admin_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_admin_settings"),
    )


def downgrade() -> None:
    op.drop_table("admin_settings")
    op.drop_table("routing_rules_versions")
