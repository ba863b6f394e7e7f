"""Several Asterisk servers: each call carries its PBX, calls unique by (linkedid, pbx)

- `calls.pbx`: the name of the Asterisk the call was on (TRUBKA_PBXES); `default` for
  every call stored before, and for the one PBX of TRUBKA_AMI_*.
- The unique constraint `uq_calls_linkedid` becomes `uq_calls_linkedid_pbx` on
  (linkedid, pbx): two Asterisks may hand out the same linkedid. linkedid leads, so
  lookups by linkedid alone still use it.

Revision ID: 0017_pbxes
Revises: 0016_leads_forecast
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_pbxes"
down_revision = "0016_leads_forecast"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(
            sa.Column("pbx", sa.String(64), nullable=False, server_default="default")
        )
        batch.drop_constraint("uq_calls_linkedid", type_="unique")
        batch.create_unique_constraint("uq_calls_linkedid_pbx", ["linkedid", "pbx"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_constraint("uq_calls_linkedid_pbx", type_="unique")
        batch.create_unique_constraint("uq_calls_linkedid", ["linkedid"])
        batch.drop_column("pbx")
