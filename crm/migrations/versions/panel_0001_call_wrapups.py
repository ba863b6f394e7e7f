"""agent panel: call wrap-ups (the agent's disposition, note and follow-up task of a call)

Revision ID: panel_0001
Revises: crm_0001 (released as a branch from 0001_calls that depended on crm_0001, made
a child of it by 0002_merge_heads so that the branches can merge)
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "panel_0001"
down_revision = "crm_0001"
branch_labels = ("panel",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_wrapups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("linkedid", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("disposition", sa.String(24), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_wrapups"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_call_wrapups_user_id_users", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name="fk_call_wrapups_contact_id_contacts",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_call_wrapups_company_id_companies",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["notes.id"], name="fk_call_wrapups_note_id_notes", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_call_wrapups_task_id_tasks", ondelete="SET NULL"
        ),
        sa.UniqueConstraint("linkedid", "user_id", name="uq_call_wrapups_linkedid_user"),
    )
    op.create_index("ix_call_wrapups_linkedid", "call_wrapups", ["linkedid"])
    op.create_index("ix_call_wrapups_contact_id", "call_wrapups", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_call_wrapups_contact_id", table_name="call_wrapups")
    op.drop_index("ix_call_wrapups_linkedid", table_name="call_wrapups")
    op.drop_table("call_wrapups")
