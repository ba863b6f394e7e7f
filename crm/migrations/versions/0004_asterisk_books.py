"""Asterisk's books: where each call record came from, how far the books were read,
and supervisors' spy sessions

- `calls.source`: `ami` (seen live) or `backfill` (rebuilt from queue_log and the CDR
  after an outage); every call stored before is `ami`.
- `book_cursors`: how far `queue_log` and the CDR file were read (file identity and
  offset), so a restart reads on from there and nothing twice.
- `supervisor_spy_sessions`: a listen/whisper/barge's ring, start and end, beside the
  audit row of the action (a spy session is never a call record).

Revision ID: 0004_asterisk_books
Revises: 0003_routing_reason_key
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0004_asterisk_books"
down_revision = "0003_routing_reason_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "calls", sa.Column("source", sa.String(16), nullable=False, server_default="ami")
    )
    op.create_table(
        "book_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "supervisor_spy_sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uniqueid", sa.String(150), nullable=False, unique=True),
        sa.Column("audit_id", sa.Integer()),
        sa.Column("phone", sa.String(128)),
        sa.Column("spied_linkedid", sa.String(64)),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("listening_from", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("seconds", sa.Float()),
    )
    op.create_index(
        "ix_supervisor_spy_sessions_audit_id", "supervisor_spy_sessions", ["audit_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_supervisor_spy_sessions_audit_id", "supervisor_spy_sessions")
    op.drop_table("supervisor_spy_sessions")
    op.drop_table("book_cursors")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("source")
