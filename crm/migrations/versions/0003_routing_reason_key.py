"""calls: the routing reason as a key and values, beside its English text

`routing_reason_key` (a `routing.decision.ReasonKey`) and `routing_reason_values` (its
values as JSON) let pages render why a call went where it went in the reader's language
(`routing.reasons`). Both are null for calls stored before, which keep showing their
English `routing_reason`.

Revision ID: 0003_routing_reason_key
Revises: 0002_merge_heads
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_routing_reason_key"
down_revision = "0002_merge_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("routing_reason_key", sa.String(64)))
    op.add_column("calls", sa.Column("routing_reason_values", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("routing_reason_values")
        batch.drop_column("routing_reason_key")
