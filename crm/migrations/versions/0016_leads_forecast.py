"""Inbound leads and the sales forecast

- `pipeline_stages.probability`: the chance (0–100 %) that a deal in this stage is won,
  set by an admin; null: the default (won 100, lost 0, open stages spread evenly by
  their order, see `crm.forecast.stage_probabilities`).
- `deals.expected_close_on`: the day the deal is expected to close (null: not known).
- `inbound_leads`: the answers of `POST /api/inbound/leads` by API token and
  `Idempotency-Key`, so a repeated request gets the same answer and changes nothing.

Revision ID: 0016_leads_forecast
Revises: 0012_admin_people
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0016_leads_forecast"
down_revision = "0015_mail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pipeline_stages", sa.Column("probability", sa.Integer(), nullable=True))
    op.add_column("deals", sa.Column("expected_close_on", sa.Date(), nullable=True))
    op.create_index("ix_deals_expected_close_on", "deals", ["expected_close_on"])
    op.create_table(
        "inbound_leads",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("token_id", "idempotency_key", name="uq_inbound_leads_token_key"),
    )
    op.create_index("ix_inbound_leads_created_at", "inbound_leads", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_leads_created_at", table_name="inbound_leads")
    op.drop_table("inbound_leads")
    op.drop_index("ix_deals_expected_close_on", table_name="deals")
    with op.batch_alter_table("deals") as batch:
        batch.drop_column("expected_close_on")
    with op.batch_alter_table("pipeline_stages") as batch:
        batch.drop_column("probability")
