"""Which answered call closed a callback task

- `callback_tasks.closed_by_linkedid`: the linkedid of the answered call with the
  customer (they called back, or were called) that closed the task by itself; null
  while open, or when a person closed it.

Revision ID: 0008_callback_closed_by_call
Revises: 0007_number_search
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_callback_closed_by_call"
down_revision = "0007_number_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "callback_tasks", sa.Column("closed_by_linkedid", sa.String(64), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("callback_tasks") as batch:
        batch.drop_column("closed_by_linkedid")
