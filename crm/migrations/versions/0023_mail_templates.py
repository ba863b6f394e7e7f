"""Named letter templates (`crm.mail.named_templates`)

- `mail_templates`: `name` (unique), `subject`, `body` (sandboxed Jinja2 over `contact`,
  `user`, `mailbox`), `language` ("" any, `en`, `ru`), `created_by_id`/`updated_by_id`
  (users, NULL when the user is removed), `created_at`, `updated_at`, `version`
  (optimistic locking).

Revision ID: 0023_mail_templates
Revises: 0022_pbxrollups
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0023_mail_templates"
down_revision = "0022_pbxrollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_templates",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column(
            "created_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
        ),
        sa.Column(
            "updated_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("name", name="uq_mail_templates_name"),
    )


def downgrade() -> None:
    op.drop_table("mail_templates")
