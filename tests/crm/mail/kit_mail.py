"""Letters and mailboxes for the e-mail tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from crm.access import Actor
from crm.database import Database
from crm.mail.mailboxes import MailboxCreate
from crm.mail.poller import MailPoller, PollConfig
from crm.schemas import ContactCreate
from crm.services import CrmServices
from tests.crm.mail.kit_dovecot import Dovecot

OUR_ADDRESS = "sales@trubka.example"
CUSTOMER = "ivan.petrov@customer.example"
SYSTEM = Actor.system()


def letter(
    *,
    sender: str | None = CUSTOMER,
    to: str = OUR_ADDRESS,
    subject: str = "Hello",
    text: str | None = "Hello from the customer",
    html: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    attachments: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    minutes_ago: int = 10,
) -> tuple[bytes, str]:
    """A letter's bytes and its Message-ID."""
    message = EmailMessage()
    if sender is not None:
        message["From"] = f"Ivan Petrov <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC) - timedelta(minutes=minutes_ago))
    message_id = message_id or make_msgid(domain="customer.example")
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    for name, data in attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message.as_bytes(), message_id


@dataclass
class MailDesk:
    """A CRM on a database, a contact, a Dovecot user and a mailbox over it."""

    db: Database
    crm: CrmServices
    dovecot: Dovecot
    login: str
    password: str
    mailbox_id: int
    contact_id: int

    def poller(self, **config: Any) -> MailPoller:
        """A new poller (a new one is what a restart makes)."""
        settings = {"interval": 0.05, "timeout": 10.0, **config}
        return MailPoller(self.db, self.crm.mailboxes, self.crm.contacts, PollConfig(**settings))

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        self.dovecot.deliver(self.login, self.password, raw, folder)

    async def letters(self) -> list[dict[str, Any]]:
        items = (await self.crm.timeline.contact(self.contact_id, limit=200))["items"]
        return [i["letter"] for i in items if i["kind"] == "letter"]


@asynccontextmanager
async def mail_desk(database_url: str, dovecot: Dovecot, **mailbox: Any) -> AsyncIterator[MailDesk]:
    db = Database(database_url)
    crm = CrmServices.create(db, secret_key="a secret key for the e-mail tests")
    try:
        login, password = dovecot.new_user()
        contact = await crm.contacts.create(
            ContactCreate(name="Ivan Petrov", emails=[CUSTOMER.upper()]), SYSTEM
        )
        settings = {
            "name": "Sales",
            "address": OUR_ADDRESS,
            "imap_host": dovecot.host,
            "imap_port": dovecot.port,
            "imap_ssl": False,
            "login": login,
            "password": password,
            **mailbox,
        }
        box = await crm.mailboxes.create(MailboxCreate(**settings), SYSTEM)
        yield MailDesk(db, crm, dovecot, login, password, box["id"], contact["id"])
    finally:
        crm.close()
        await db.dispose()
