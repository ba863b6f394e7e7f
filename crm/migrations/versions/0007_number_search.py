"""Number search by any contiguous run of digits

- SQLite: `phones_digits_fts`, an FTS5 table with the trigram tokenizer over
  `phones.digits_rev` (external content, kept by three triggers). A run of digits is a
  substring of a number's digits exactly when its reverse is a substring of
  `digits_rev`, so the reversed digits the suffix search already keeps serve both.
- PostgreSQL: a pg_trgm GIN index on `phones.digits_rev` (`LIKE '%…%'` uses it).

Revision ID: 0007_number_search
Revises: 0006_agent_sessions
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0007_number_search"
down_revision = "0006_agent_sessions"
branch_labels = None
depends_on = None

FTS = "phones_digits_fts"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5(digits_rev, content='phones', "
            "content_rowid='id', tokenize='trigram')"
        )
        op.execute(
            f"CREATE TRIGGER phones_digits_ai AFTER INSERT ON phones BEGIN "
            f"INSERT INTO {FTS}(rowid, digits_rev) VALUES (new.id, new.digits_rev); END"
        )
        op.execute(
            f"CREATE TRIGGER phones_digits_ad AFTER DELETE ON phones BEGIN "
            f"INSERT INTO {FTS}({FTS}, rowid, digits_rev) "
            "VALUES ('delete', old.id, old.digits_rev); END"
        )
        op.execute(
            f"CREATE TRIGGER phones_digits_au AFTER UPDATE OF digits_rev ON phones BEGIN "
            f"INSERT INTO {FTS}({FTS}, rowid, digits_rev) "
            "VALUES ('delete', old.id, old.digits_rev); "
            f"INSERT INTO {FTS}(rowid, digits_rev) VALUES (new.id, new.digits_rev); END"
        )
        op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_phones_digits_rev_trgm ON phones USING gin (digits_rev gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS phones_digits_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    else:
        op.execute("DROP INDEX IF EXISTS ix_phones_digits_rev_trgm")
