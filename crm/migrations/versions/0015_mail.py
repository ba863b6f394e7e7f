"""E-mail: mailboxes, where the poller stopped in each folder, letters and attachments

- `mailboxes`: IMAP (host, port, SSL, login, the password encrypted with the secret key,
  the folder polled and the Sent folder) and SMTP (host, port, security, login) of a
  user's own or a shared mailbox; whether unknown senders become contacts.
- `mail_folder_states`: per mailbox and folder, the UIDVALIDITY and the last UID read.
- `letters`: letters to or from a contact (its timeline), unique per mailbox, folder,
  UIDVALIDITY and UID; `message_id` and `thread_key` keep threads together.
- `letter_attachments`: each attachment, its bytes when under the size cap.

Revision ID: 0015_mail
Revises: 0012_admin_people
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm.database import UTCDateTime

revision = "0015_mail"
down_revision = "0014_node_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column(
            "owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("imap_host", sa.String(255), nullable=False),
        sa.Column("imap_port", sa.Integer(), nullable=False),
        sa.Column("imap_ssl", sa.Boolean(), nullable=False),
        sa.Column("login", sa.String(254), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("sent_folder", sa.String(255), nullable=False),
        sa.Column("smtp_host", sa.String(255), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_security", sa.String(16), nullable=False),
        sa.Column("smtp_login", sa.String(254), nullable=False),
        sa.Column("create_contacts", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("polled_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_index("ix_mailboxes_owner_id", "mailboxes", ["owner_id"])
    op.create_table(
        "mail_folder_states",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "mailbox_id",
            sa.Integer(),
            sa.ForeignKey("mailboxes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("mailbox_id", "folder", name="uq_mail_folder_states"),
    )
    op.create_table(
        "letters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "mailbox_id",
            sa.Integer(),
            sa.ForeignKey("mailboxes.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey("contacts.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column(
            "company_id",
            sa.Integer(),
            sa.ForeignKey("companies.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("folder", sa.String(255), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.String(500), nullable=True),
        sa.Column("in_reply_to", sa.String(500), nullable=True),
        sa.Column("reference_ids", sa.JSON(), nullable=False),
        sa.Column("thread_key", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(1000), nullable=False),
        sa.Column("from_address", sa.String(254), nullable=False),
        sa.Column("from_name", sa.String(255), nullable=False),
        sa.Column("to_addresses", sa.JSON(), nullable=False),
        sa.Column("cc_addresses", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column(
            "sent_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.UniqueConstraint(
            "mailbox_id", "folder", "uidvalidity", "uid", "contact_id", name="uq_letters_uid"
        ),
    )
    op.create_index("ix_letters_mailbox_id", "letters", ["mailbox_id"])
    op.create_index("ix_letters_message_id", "letters", ["message_id"])
    op.create_index("ix_letters_thread_key", "letters", ["thread_key"])
    op.create_index("ix_letters_contact_id_at", "letters", ["contact_id", "at"])
    op.create_index("ix_letters_company_id_at", "letters", ["company_id", "at"])
    op.create_table(
        "letter_attachments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "letter_id",
            sa.Integer(),
            sa.ForeignKey("letters.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("refused", sa.String(255), nullable=True),
        sa.UniqueConstraint("letter_id", "n", name="uq_letter_attachments_n"),
    )


def downgrade() -> None:
    op.drop_table("letter_attachments")
    op.drop_index("ix_letters_company_id_at", table_name="letters")
    op.drop_index("ix_letters_contact_id_at", table_name="letters")
    op.drop_index("ix_letters_thread_key", table_name="letters")
    op.drop_index("ix_letters_message_id", table_name="letters")
    op.drop_index("ix_letters_mailbox_id", table_name="letters")
    op.drop_table("letters")
    op.drop_table("mail_folder_states")
    op.drop_index("ix_mailboxes_owner_id", table_name="mailboxes")
    op.drop_table("mailboxes")
