"""After-call work: the wrap-ups agents still owe, and the agents held to write them

- `pending_wrapups`: one row per user and answered call whose wrap-up is not saved or
  skipped yet (what the panel shows of the call), listed by `GET /api/panel/wrapups`.
- `after_call_holds`: the user Trubka holds out of the queues (QueuePause with the reason
  `trubka-acw`) until that call's wrap-up is saved or `until` passes.

Revision ID: 0010_after_call_work
Revises: 0009_admin_rules
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0010_after_call_work"
down_revision = "0009_admin_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_wrapups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("agent_interface", sa.String(length=128), nullable=False),
        sa.Column("queue", sa.String(length=128), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=True),
        sa.Column("caller_name", sa.String(length=255), nullable=True),
        sa.Column("called_number", sa.String(length=64), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_pending_wrapups_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pending_wrapups"),
        sa.UniqueConstraint("user_id", "linkedid", name="uq_pending_wrapups_user_call"),
    )
    op.create_index("ix_pending_wrapups_user_id", "pending_wrapups", ["user_id"])
    op.create_table(
        "after_call_holds",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("interfaces", sa.Text(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_after_call_holds_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_after_call_holds"),
    )


def downgrade() -> None:
    op.drop_table("after_call_holds")
    op.drop_index("ix_pending_wrapups_user_id", table_name="pending_wrapups")
    op.drop_table("pending_wrapups")
