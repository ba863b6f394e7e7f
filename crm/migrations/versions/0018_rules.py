"""Triggers: rules "when … if … then …", the durable queue of their events, the keys of
the actions done and the log of every run

- `rules`: name, event type, conditions and actions (JSON), enabled, `builtin` (the
  missed-call callback task is the built-in rule `missed_call_callback`), position.
- `rule_events`: each event the rules look at (its id, type, time, data, chain depth),
  written in the transaction of the change; a worker claims the pending ones.
- `rule_action_keys`: (rule, event, action index) of every action done.
- `rule_runs`: the run log (event, conditions evaluated, actions done, errors).

Revision ID: 0018_rules
Revises: 0012_admin_people
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0018_rules"
down_revision = "0017_pbxes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("builtin", sa.String(40)),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_rules"),
        sa.UniqueConstraint("builtin", name="uq_rules_builtin"),
    )
    op.create_index("ix_rules_event_enabled", "rules", ["event", "enabled"])
    op.create_table(
        "rule_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("contact_id", sa.Integer()),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("error", sa.String(500)),
        sa.PrimaryKeyConstraint("id", name="pk_rule_events"),
        sa.UniqueConstraint("uid", name="uq_rule_events_uid"),
    )
    op.create_index("ix_rule_events_status_id", "rule_events", ["status", "id"])
    op.create_table(
        "rule_action_keys",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("action_index", sa.Integer(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "event_id", "action_index", name="pk_rule_action_keys"),
    )
    op.create_table(
        "rule_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer()),
        sa.Column("event_uid", sa.String(36), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rule_runs"),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["rules.id"], name="fk_rule_runs_rule_id_rules", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_rule_runs_rule_id_id", "rule_runs", ["rule_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_rule_runs_rule_id_id", table_name="rule_runs")
    op.drop_table("rule_runs")
    op.drop_table("rule_action_keys")
    op.drop_index("ix_rule_events_status_id", table_name="rule_events")
    op.drop_table("rule_events")
    op.drop_index("ix_rules_event_enabled", table_name="rules")
    op.drop_table("rules")
