"""Administration of people: last sign-in, queue penalties, admin changes in the audit log

- `users.last_sign_in_at`: when the user last signed in (null: never, or before it was kept).
- `user_queues.penalty`: the member's penalty in that queue (Asterisk's `Penalty`), 0 by
  default; Trubka adds the member to the queue as a dynamic member with it.
- `supervisor_audit.target`, `before_json`, `after_json`: an admin's change of a user or a
  queue membership names what was changed and keeps it before and after (JSON text).

Revision ID: 0012_admin_people
Revises: 0011_webhooks
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0012_admin_people"
down_revision = "0011_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("last_sign_in_at", UTCDateTime(), nullable=True))
    op.add_column(
        "user_queues", sa.Column("penalty", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("supervisor_audit", sa.Column("target", sa.String(255), nullable=True))
    op.add_column("supervisor_audit", sa.Column("before_json", sa.Text(), nullable=True))
    op.add_column("supervisor_audit", sa.Column("after_json", sa.Text(), nullable=True))
    op.create_index("ix_supervisor_audit_target_at", "supervisor_audit", ["target", "at"])


def downgrade() -> None:
    op.drop_index("ix_supervisor_audit_target_at", table_name="supervisor_audit")
    with op.batch_alter_table("supervisor_audit") as batch:
        batch.drop_column("after_json")
        batch.drop_column("before_json")
        batch.drop_column("target")
    with op.batch_alter_table("user_queues") as batch:
        batch.drop_column("penalty")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_sign_in_at")
