"""The typed answers of the e-mail API (`web/api/mail.py`) and the timeline's letters."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MailView(BaseModel):
    model_config = ConfigDict(extra="allow")


class AttachmentView(MailView):
    n: int
    filename: str
    content_type: str
    size: int
    available: bool = Field(description="false: not kept (see `refused`)")
    refused: str | None
    url: str


class Sender(MailView):
    address: str
    name: str


class LetterView(MailView):
    """A letter to or from a contact; `text` is plain text (HTML letters are converted)."""

    id: int
    direction: str = Field(description="in | out")
    mailbox_id: int | None
    contact_id: int | None
    at: str | None
    subject: str
    from_: Sender = Field(alias="from")
    to: list[str]
    cc: list[str]
    message_id: str | None
    in_reply_to: str | None
    thread_key: str
    text: str
    problems: list[str] = Field(description="what could not be read of the letter")
    attachments: list[AttachmentView]


class ThreadView(MailView):
    thread_key: str
    subject: str
    last_at: str | None
    letters: list[LetterView]


class LetterList(MailView):
    items: list[LetterView]
    threads: list[ThreadView]


class MailboxView(MailView):
    """A mailbox's settings; its password is never given back (`has_password`)."""

    id: int
    name: str
    address: str
    owner_id: int | None
    imap_host: str
    imap_port: int
    imap_ssl: bool
    login: str
    has_password: bool
    folder: str
    sent_folder: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_login: str
    create_contacts: bool
    enabled: bool
    created_at: str | None
    polled_at: str | None
    last_error: str | None


class MailboxList(MailView):
    items: list[MailboxView]
