"""crm core: users, sessions, contacts, companies, phones, tags, notes, tasks, deals, search

Revision ID: crm_0001
Revises: 0001_calls
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "crm_0001"
down_revision = "0001_calls"
branch_labels = ("crm",)
depends_on = None


def _stamps(*names: str, nullable: bool = False) -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column(name, UTCDateTime(), nullable=nullable) for name in names]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_stamps("created_at", "updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("login", name="uq_users_login"),
    )
    op.create_table(
        "user_interfaces",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_user_interfaces_user_id_users"), nullable=False),
        sa.Column("interface", sa.String(128), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_user_interfaces"),
        sa.UniqueConstraint("key", name="uq_user_interfaces_key"),
    )
    op.create_index("ix_user_interfaces_user_id", "user_interfaces", ["user_id"])
    op.create_table(
        "user_queues",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_user_queues_user_id_users"), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "queue", name="pk_user_queues"),
    )
    op.create_index("ix_user_queues_queue", "user_queues", ["queue"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_web_sessions_user_id_users"), nullable=False),
        *_stamps("created_at", "expires_at", "last_seen_at"),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(255)),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_web_sessions_token_hash"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])

    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_companies_owner_id_users")),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_companies_created_by_id_users")),
        *_stamps("created_at", "updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_companies"),
    )
    op.create_index("ix_companies_owner_id", "companies", ["owner_id"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id", ondelete="SET NULL", name="fk_contacts_company_id_companies")),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_contacts_owner_id_users")),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_contacts_created_by_id_users")),
        *_stamps("created_at", "updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
    )
    op.create_index("ix_contacts_company_id", "contacts", ["company_id"])
    op.create_index("ix_contacts_owner_id", "contacts", ["owner_id"])
    op.create_table(
        "phones",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id", ondelete="CASCADE", name="fk_phones_contact_id_contacts")),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id", ondelete="CASCADE", name="fk_phones_company_id_companies")),
        sa.Column("raw", sa.String(64), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("digits_rev", sa.String(64), nullable=False),
        sa.Column("label", sa.String(32)),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_phones"),
        sa.CheckConstraint("(contact_id IS NULL) <> (company_id IS NULL)", name="ck_phones_one_owner"),
    )
    op.create_index("ix_phones_number", "phones", ["number"])
    op.create_index("ix_phones_digits_rev", "phones", ["digits_rev"])
    # each phone has one owner: index only the rows that have that kind of owner
    op.create_index("ix_phones_contact_id", "phones", ["contact_id"],
                    sqlite_where=sa.text("contact_id IS NOT NULL"), postgresql_where=sa.text("contact_id IS NOT NULL"))
    op.create_index("ix_phones_company_id", "phones", ["company_id"],
                    sqlite_where=sa.text("company_id IS NOT NULL"), postgresql_where=sa.text("company_id IS NOT NULL"))
    op.create_table(
        "contact_tags",
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id", ondelete="CASCADE", name="fk_contact_tags_contact_id_contacts"), nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("contact_id", "tag", name="pk_contact_tags"),
    )
    op.create_index("ix_contact_tags_tag", "contact_tags", ["tag", "contact_id"])
    op.create_table(
        "company_tags",
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id", ondelete="CASCADE", name="fk_company_tags_company_id_companies"), nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("company_id", "tag", name="pk_company_tags"),
    )
    op.create_index("ix_company_tags_tag", "company_tags", ["tag", "company_id"])

    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id", ondelete="CASCADE", name="fk_notes_contact_id_contacts")),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id", ondelete="CASCADE", name="fk_notes_company_id_companies")),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_notes_author_id_users")),
        sa.Column("body", sa.Text(), nullable=False),
        *_stamps("created_at", "updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notes"),
    )
    op.create_index("ix_notes_contact_id_created_at", "notes", ["contact_id", "created_at"])
    op.create_index("ix_notes_company_id_created_at", "notes", ["company_id", "created_at"])

    op.create_table(
        "pipelines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        *_stamps("created_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pipelines"),
        sa.UniqueConstraint("name", name="uq_pipelines_name"),
    )
    op.create_table(
        "pipeline_stages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pipeline_id", sa.Integer(), sa.ForeignKey("pipelines.id", ondelete="CASCADE", name="fk_pipeline_stages_pipeline_id_pipelines"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_stages"),
        sa.UniqueConstraint("pipeline_id", "name", name="uq_pipeline_stages_pipeline_name"),
    )
    op.create_table(
        "deals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), sa.ForeignKey("pipelines.id", ondelete="RESTRICT", name="fk_deals_pipeline_id_pipelines"), nullable=False),
        sa.Column("stage_id", sa.Integer(), sa.ForeignKey("pipeline_stages.id", ondelete="RESTRICT", name="fk_deals_stage_id_pipeline_stages"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger()),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id", ondelete="SET NULL", name="fk_deals_contact_id_contacts")),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id", ondelete="SET NULL", name="fk_deals_company_id_companies")),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_deals_owner_id_users")),
        *_stamps("created_at", "updated_at"),
        *_stamps("closed_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deals"),
    )
    op.create_index("ix_deals_contact_id", "deals", ["contact_id"])
    op.create_index("ix_deals_company_id", "deals", ["company_id"])
    op.create_index("ix_deals_owner_id", "deals", ["owner_id"])
    op.create_index("ix_deals_stage_id", "deals", ["stage_id"])
    op.create_table(
        "deal_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id", ondelete="CASCADE", name="fk_deal_events_deal_id_deals"), nullable=False),
        sa.Column("contact_id", sa.Integer()),
        sa.Column("company_id", sa.Integer()),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_deal_events_user_id_users")),
        *_stamps("at"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_stage_id", sa.Integer()),
        sa.Column("to_stage_id", sa.Integer()),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deal_events"),
    )
    op.create_index("ix_deal_events_deal_id_at", "deal_events", ["deal_id", "at"])
    op.create_index("ix_deal_events_contact_id_at", "deal_events", ["contact_id", "at"])
    op.create_index("ix_deal_events_company_id_at", "deal_events", ["company_id", "at"])

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        *_stamps("due_at", nullable=True),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_tasks_assignee_id_users")),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_tasks_created_by_id_users")),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contacts.id", ondelete="CASCADE", name="fk_tasks_contact_id_contacts")),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("companies.id", ondelete="CASCADE", name="fk_tasks_company_id_companies")),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deals.id", ondelete="SET NULL", name="fk_tasks_deal_id_deals")),
        sa.Column("call_linkedid", sa.String(64)),
        *_stamps("created_at", "updated_at"),
        *_stamps("completed_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_assignee_id_status_due_at", "tasks", ["assignee_id", "status", "due_at"])
    op.create_index("ix_tasks_contact_id_created_at", "tasks", ["contact_id", "created_at"])
    op.create_index("ix_tasks_company_id_created_at", "tasks", ["company_id", "created_at"])
    op.create_index("ix_tasks_status_due_at", "tasks", ["status", "due_at"])

    # Calls: which company a call belongs to (its contact's, or a company number's), and
    # partial indexes that make "last answered call with this contact/company" one seek.
    # No foreign keys on calls.contact_id/company_id: adding one to an existing SQLite
    # table means rebuilding it (millions of rows), and crm.linking keeps both columns
    # right (deleting a contact relinks its calls to the next owner of the number).
    op.add_column("calls", sa.Column("company_id", sa.Integer()))
    op.create_index("ix_calls_company_id_started_at", "calls", ["company_id", "started_at"])
    answered = sa.text("disposition = 'answered'")
    op.create_index(
        "ix_calls_contact_answered", "calls", ["contact_id", "started_at"],
        sqlite_where=answered, postgresql_where=answered,
    )
    op.create_index(
        "ix_calls_company_answered", "calls", ["company_id", "started_at"],
        sqlite_where=answered, postgresql_where=answered,
    )

    # Full-text search over contacts.search_text / companies.search_text.
    if dialect == "sqlite":
        for table in ("contacts", "companies"):
            fts = f"{table}_fts"
            op.execute(
                f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, content='{table}', "
                f"content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='1 2 3')"
            )
            op.execute(
                f"CREATE TRIGGER {table}_fts_ai AFTER INSERT ON {table} BEGIN "
                f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text); END"
            )
            op.execute(
                f"CREATE TRIGGER {table}_fts_ad AFTER DELETE ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END"
            )
            op.execute(
                f"CREATE TRIGGER {table}_fts_au AFTER UPDATE OF search_text ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
                f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text); END"
            )
    else:
        for table in ("contacts", "companies"):
            op.execute(
                f"CREATE INDEX ix_{table}_search ON {table} USING gin "
                f"(array_to_tsvector(string_to_array(search_text, ' ')))"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in ("contacts", "companies"):
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
    op.drop_index("ix_calls_company_answered", "calls")
    op.drop_index("ix_calls_contact_answered", "calls")
    op.drop_index("ix_calls_company_id_started_at", "calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("company_id")
    for table in (
        "tasks", "deal_events", "deals", "pipeline_stages", "pipelines", "notes", "company_tags",
        "contact_tags", "phones", "contacts", "companies", "web_sessions", "user_queues",
        "user_interfaces", "users",
    ):
        op.drop_table(table)
