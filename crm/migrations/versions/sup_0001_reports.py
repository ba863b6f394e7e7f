"""supervisor reports: hourly and daily call rollups, their watermark, agent time per state

Revision ID: sup_0001
Revises: 0001_calls
Create Date: 2026-11-26
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "sup_0001"
down_revision = "0001_calls"
branch_labels = ("sup",)
depends_on = None


def _totals() -> list[sa.Column[Any]]:
    ints = ["offered", "answered", "abandoned", "unanswered", "answered_within_sl", "abandoned_within_sl"]
    floats = ["hold_answered_seconds", "hold_abandoned_seconds", "max_hold_seconds", "talk_seconds"]
    columns: list[sa.Column[Any]] = [sa.Column("agent_name", sa.String(255))]
    columns += [sa.Column(name, sa.Integer(), nullable=False) for name in ints]
    columns += [sa.Column(name, sa.Float(), nullable=False) for name in floats]
    columns += [
        sa.Column("outbound", sa.Integer(), nullable=False),
        sa.Column("outbound_answered", sa.Integer(), nullable=False),
        sa.Column("outbound_talk_seconds", sa.Float(), nullable=False),
    ]
    return columns


def upgrade() -> None:
    op.create_table(
        "report_hours",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("sl_seconds", sa.Integer(), nullable=False),
        *_totals(),
        sa.PrimaryKeyConstraint("id", name="pk_report_hours"),
    )
    op.create_index("uq_report_hours_bucket", "report_hours", ["day", "hour", "queue", "agent"], unique=True)
    op.create_index("ix_report_hours_agent_day", "report_hours", ["agent", "day"])
    op.create_table(
        "report_days",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("sl_min", sa.Integer(), nullable=False),
        sa.Column("sl_max", sa.Integer(), nullable=False),
        *_totals(),
        sa.PrimaryKeyConstraint("id", name="pk_report_days"),
    )
    op.create_index("uq_report_days_bucket", "report_days", ["day", "queue", "agent"], unique=True)
    op.create_index("ix_report_days_agent_day", "report_days", ["agent", "day"])
    op.create_table(
        "report_rollup_state",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("last_call_id", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_report_rollup_state"),
    )
    op.create_table(
        "agent_state_hours",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(80), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_state_hours"),
    )
    op.create_index(
        "uq_agent_state_hours_bucket",
        "agent_state_hours",
        ["day", "hour", "agent", "state", "reason"],
        unique=True,
    )


    op.create_table(
        "agent_state_days",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(80), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_state_days"),
    )
    op.create_index(
        "uq_agent_state_days_bucket", "agent_state_days", ["day", "agent", "state", "reason"], unique=True
    )


def downgrade() -> None:
    op.drop_table("agent_state_days")
    op.drop_table("agent_state_hours")
    op.drop_table("report_rollup_state")
    op.drop_table("report_days")
    op.drop_table("report_hours")
