"""routing: a covering index for "who has this number"

Every incoming call looks its caller's number up in `phones`; with the owner columns in
the index the lookup never reads the table row. Replaces crm_0001's `ix_phones_number`
(same leading column).

Revision ID: route_0003
Revises: route_0002
Create Date: 2026-11-26
"""
from __future__ import annotations

from alembic import op

revision = "route_0003"
down_revision = "route_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_phones_number_cover", "phones", ["number", "contact_id", "company_id"])
    op.drop_index("ix_phones_number", "phones")


def downgrade() -> None:
    op.create_index("ix_phones_number", "phones", ["number"])
    op.drop_index("ix_phones_number_cover", "phones")
