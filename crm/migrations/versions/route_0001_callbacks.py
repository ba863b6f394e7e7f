"""routing: callback tasks for missed calls (one per customer per day), who closed a task

Revision ID: route_0001
Revises: crm_0001 (its tasks and users; released as a branch from 0001_calls that depended
on crm_0001, made a child of it by 0002_merge_heads so that the branches can merge)
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "route_0001"
down_revision = "crm_0001"
branch_labels = ("route",)
depends_on = None


def upgrade() -> None:
    # One row per customer and day: the unique key that makes "one callback task per
    # customer per day" hold across restarts and nodes.
    op.create_table(
        "callback_tasks",
        sa.Column("key", sa.String(96), primary_key=True),
        sa.Column(
            "task_id",
            sa.Integer(),
            sa.ForeignKey("tasks.id", ondelete="CASCADE", name="fk_callback_tasks_task_id_tasks"),
            nullable=True,
        ),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_callback_tasks_task_id", "callback_tasks", ["task_id"])
    # Every missed call of that customer that day points at the task.
    op.create_table(
        "callback_task_calls",
        sa.Column("linkedid", sa.String(64), primary_key=True),
        sa.Column(
            "task_id",
            sa.Integer(),
            sa.ForeignKey(
                "tasks.id", ondelete="CASCADE", name="fk_callback_task_calls_task_id_tasks"
            ),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_callback_task_calls_task_id", "callback_task_calls", ["task_id"])
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("completed_by_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("completed_by_id")
    op.drop_index("ix_callback_task_calls_task_id", table_name="callback_task_calls")
    op.drop_table("callback_task_calls")
    op.drop_index("ix_callback_tasks_task_id", table_name="callback_tasks")
    op.drop_table("callback_tasks")
