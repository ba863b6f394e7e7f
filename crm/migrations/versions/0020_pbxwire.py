"""Several Asterisk servers: a recording job belongs to the call (linkedid, pbx)

- `recording_jobs.pbx`: the Asterisk whose MixMonitor wrote the file (TRUBKA_PBXES);
  `default` for every job stored before, like `calls.pbx`.
- The unique constraint `uq_recording_jobs_linkedid_source` becomes
  `uq_recording_jobs_linkedid_pbx_source` on (linkedid, pbx, source_path): two Asterisks
  may hand out the same linkedid and name their files the same.

Revision ID: 0020_pbxwire
Revises: 0019_rule_schedules
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_pbxwire"
down_revision = "0019_rule_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recording_jobs") as batch:
        batch.add_column(
            sa.Column("pbx", sa.String(64), nullable=False, server_default="default")
        )
        batch.drop_constraint("uq_recording_jobs_linkedid_source", type_="unique")
        batch.create_unique_constraint(
            "uq_recording_jobs_linkedid_pbx_source", ["linkedid", "pbx", "source_path"]
        )


def downgrade() -> None:
    with op.batch_alter_table("recording_jobs") as batch:
        batch.drop_constraint("uq_recording_jobs_linkedid_pbx_source", type_="unique")
        batch.create_unique_constraint(
            "uq_recording_jobs_linkedid_source", ["linkedid", "source_path"]
        )
        batch.drop_column("pbx")
