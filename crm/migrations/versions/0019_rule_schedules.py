"""Schedule triggers: a rule whose "when" is a time of day

- `rules.schedule`: `{"at": "HH:MM", "weekdays_only": bool, "days": N}` for the
  `schedule.*` events (NULL for the others);
- `rules.schedule_day`: the local day (YYYY-MM-DD) the schedule last ran, taken by a
  conditional UPDATE so one node runs each day's selection once.

Revision ID: 0019_rule_schedules
Revises: 0018_rules
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_rule_schedules"
down_revision = "0018_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rules") as batch:
        batch.add_column(sa.Column("schedule", sa.JSON()))
        batch.add_column(sa.Column("schedule_day", sa.String(10)))


def downgrade() -> None:
    with op.batch_alter_table("rules") as batch:
        batch.drop_column("schedule_day")
        batch.drop_column("schedule")
