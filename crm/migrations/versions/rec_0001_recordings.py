"""recordings: the persistent job queue and the audit trail

Revision ID: rec_0001
Revises: 0001_calls
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "rec_0001"
down_revision = "0001_calls"
branch_labels = ("rec",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("linkedid", sa.String(64)),
        sa.Column("source_path", sa.String(1024), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(80)),
        sa.Column("call_started_at", UTCDateTime()),
        sa.Column("call_ended", sa.Boolean(), nullable=False),
        sa.Column("recording_stopped", sa.Boolean(), nullable=False),
        sa.Column("ready_at", UTCDateTime()),
        sa.Column("next_check_at", UTCDateTime(), nullable=False),
        sa.Column("seen_size", sa.BigInteger()),
        sa.Column("seen_mtime_ns", sa.BigInteger()),
        sa.Column("seen_at", UTCDateTime()),
        sa.Column("found_path", sa.String(1024)),
        sa.Column("owner", sa.String(128)),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("format", sa.String(8)),
        sa.Column("bitrate_kbps", sa.Integer()),
        sa.Column("storage_key", sa.String(512)),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("original_size", sa.BigInteger()),
        sa.Column("original_codec", sa.String(32)),
        sa.Column("duration_seconds", sa.Float()),
        sa.Column("channels", sa.Integer()),
        sa.Column("sample_rate", sa.Integer()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("peaks", sa.JSON()),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.String(512)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("processed_at", UTCDateTime()),
        sa.Column("purged_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_recording_jobs"),
        sa.UniqueConstraint("linkedid", "source_path", name="uq_recording_jobs_linkedid_source"),
    )
    op.create_index(
        "ix_recording_jobs_status_next_check_at", "recording_jobs", ["status", "next_check_at"]
    )
    op.create_index("ix_recording_jobs_linkedid", "recording_jobs", ["linkedid"])
    op.create_index("ix_recording_jobs_source_name", "recording_jobs", ["source_name"])
    op.create_index("ix_recording_jobs_created_at", "recording_jobs", ["created_at"])
    op.create_table(
        "recording_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("job_id", sa.Integer()),
        sa.Column("linkedid", sa.String(64)),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_recording_audit"),
    )
    op.create_index("ix_recording_audit_at", "recording_audit", ["at"])
    op.create_index("ix_recording_audit_job_id", "recording_audit", ["job_id"])


def downgrade() -> None:
    op.drop_table("recording_audit")
    op.drop_table("recording_jobs")
