"""Report rollups per PBX: `report_hours` and `report_days` carry the calls' PBX

- `pbx` (the name of the Asterisk the calls were on, `calls.pbx`; `default` for the
  rows rolled up before, as for the calls stored before `0017_pbxes`) joins the rows'
  unique keys: `uq_report_hours_bucket` on (day, hour, queue, agent, pbx),
  `uq_report_days_bucket` on (day, queue, agent, pbx). A queue of the same name on two
  PBXes is two rows of an hour; a report sums them unless it filters one PBX.
- Rows rolled up before are `default`'s. Where calls of another PBX are stored, the
  rollups' watermark goes back to 0, so the next catch-up recomputes every hour with
  calls from `calls` (each hour's rows are replaced whole: nothing is counted twice);
  with one PBX nothing changes and nothing is recomputed.

Revision ID: 0022_pbxrollups
Revises: 0021_notices
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_pbxrollups"
down_revision = "0021_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("uq_report_hours_bucket", table_name="report_hours")
    with op.batch_alter_table("report_hours") as batch:
        batch.add_column(
            sa.Column("pbx", sa.String(64), nullable=False, server_default="default")
        )
    op.create_index(
        "uq_report_hours_bucket",
        "report_hours",
        ["day", "hour", "queue", "agent", "pbx"],
        unique=True,
    )
    op.drop_index("uq_report_days_bucket", table_name="report_days")
    with op.batch_alter_table("report_days") as batch:
        batch.add_column(
            sa.Column("pbx", sa.String(64), nullable=False, server_default="default")
        )
    op.create_index(
        "uq_report_days_bucket", "report_days", ["day", "queue", "agent", "pbx"], unique=True
    )
    op.execute(
        "UPDATE report_rollup_state SET last_call_id = 0"
        " WHERE EXISTS (SELECT 1 FROM calls WHERE pbx <> 'default')"
    )


def downgrade() -> None:
    # the rows of one bucket on several PBXes would collide: roll them up again after
    op.execute("DELETE FROM report_hours")
    op.execute("DELETE FROM report_days")
    op.drop_index("uq_report_days_bucket", table_name="report_days")
    with op.batch_alter_table("report_days") as batch:
        batch.drop_column("pbx")
    op.create_index("uq_report_days_bucket", "report_days", ["day", "queue", "agent"], unique=True)
    op.drop_index("uq_report_hours_bucket", table_name="report_hours")
    with op.batch_alter_table("report_hours") as batch:
        batch.drop_column("pbx")
    op.create_index(
        "uq_report_hours_bucket", "report_hours", ["day", "hour", "queue", "agent"], unique=True
    )
