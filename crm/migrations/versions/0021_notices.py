"""Panel notices: what a rule's `notify` action tells a user, stored with the rule's
other actions (`crm.notices`).

- `notices`: user, text, rule (id and name), event (`rule_events.id` and `uid`), the
  action's index, contact, `created_at`, `read_at` (NULL while unread);
  (`rule_id`, `event_uid`, `action_index`) unique: one notice per action done.

Revision ID: 0021_notices
Revises: 0019_rule_schedules
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0021_notices"
down_revision = "0020_pbxwire"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Integer()),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("event_id", sa.Integer()),
        sa.Column("event_uid", sa.String(36)),
        sa.Column("action_index", sa.Integer()),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("contact_id", sa.Integer()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime()),
    )
    op.create_index("ix_notices_user_read", "notices", ["user_id", "read_at", "id"])
    op.create_index(
        "uq_notices_action", "notices", ["rule_id", "event_uid", "action_index"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_notices_action", table_name="notices")
    op.drop_index("ix_notices_user_read", table_name="notices")
    op.drop_table("notices")
