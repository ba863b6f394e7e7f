"""A contact's letters: read (threads kept together), sent over SMTP from the card, and
their attachments.

Sending renders the subject and the text as templates (`crm.mail.templates`), sends over
the mailbox's SMTP (aiosmtplib) with the mailbox's login, keeps the letter in the
contact's timeline, and puts a copy in the mailbox's Sent folder over IMAP when one is
set (best effort: a refusal there is logged, the letter is sent and kept all the same).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Annotated, Any

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Actor
from crm.contacts import CONTACTS
from crm.database import Database
from crm.errors import CrmError, Forbidden, InvalidInput, NotFound
from crm.mail.crypto import PasswordBox
from crm.mail.imap import ImapAccount, ImapError, imap_session
from crm.mail.mailboxes import MAILBOX_NOT_FOUND
from crm.mail.models import OUTBOUND, Letter, LetterAttachment, Mailbox
from crm.mail.named_templates import TEMPLATES, render_template
from crm.mail.parse import parse_letter
from crm.mail.store import Place, letter_views, store_letter
from crm.mail.templates import render
from crm.models import Company, Contact

log = logging.getLogger(__name__)

NO_ADDRESS = "this contact has no e-mail address"
NOT_THEIRS = "this is not one of the contact's e-mail addresses"
NOT_YOURS = "this mailbox belongs to another user"
CANNOT_SEND = "this mailbox cannot send letters"
NOT_SENT = "the mail server did not take the letter"
LETTER_NOT_FOUND = "no such letter"
ATTACHMENT_NOT_KEPT = "this attachment was not kept"
NO_TEXT = "enter the letter's text or choose a template"
MAX_LETTERS = 200  # letters listed per contact


class MailNotSent(CrmError):
    """The SMTP server refused the letter or could not be reached (`reason` says what)."""

    code = "mail_failed"


class LetterSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mailbox_id: Annotated[int, Field(ge=1, le=2**53)]
    to: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True,
                min_length=3,
                max_length=254,
                pattern=r"^[^@\s,;<>]+@[^@\s,;<>]+$",
            ),
        ]
        | None
    ) = None  # None: the contact's first e-mail
    subject: Annotated[str, StringConstraints(max_length=998)] = ""
    # empty: the named template's body (`template_id`); one of the two is needed
    body: Annotated[str, StringConstraints(max_length=100_000)] = ""
    # a named template (crm.mail.named_templates): its subject and body where these are empty
    template_id: Annotated[int, Field(ge=1, le=2**53)] | None = None
    reply_to: Annotated[int, Field(ge=1, le=2**53)] | None = None  # a letter's id


class LetterService:
    def __init__(
        self,
        db: Database,
        passwords: PasswordBox,
        *,
        max_attachment: int = 10 * 1024 * 1024,
        timeout: float = 30.0,
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.max_attachment = max_attachment
        self.timeout = timeout

    async def for_contact(self, contact_id: int) -> dict[str, Any]:
        """The contact's newest letters, newest first (`items`), and the same letters by
        thread (`threads`: newest thread first, each oldest letter first)."""
        async with self.db.session() as session:
            await CONTACTS.get(session, contact_id)
            rows = (
                await session.scalars(
                    select(Letter)
                    .where(Letter.contact_id == contact_id)
                    .order_by(Letter.at.desc(), Letter.id.desc())
                    .limit(MAX_LETTERS)
                )
            ).all()
            items = await letter_views(session, rows)
        threads: dict[str, dict[str, Any]] = {}
        for item in items:
            thread = threads.setdefault(
                item["thread_key"],
                {"thread_key": item["thread_key"], "last_at": item["at"], "letters": []},
            )
            thread["letters"].insert(0, item)
        for thread in threads.values():
            thread["subject"] = thread["letters"][0]["subject"]
        return {"items": items, "threads": list(threads.values())}

    async def attachment(self, letter_id: int, n: int) -> tuple[str, str, bytes]:
        """(file name, content type, bytes) of a letter's n-th attachment."""
        async with self.db.session() as session:
            row = (
                await session.scalars(
                    select(LetterAttachment).where(
                        LetterAttachment.letter_id == letter_id, LetterAttachment.n == n
                    )
                )
            ).first()
        if row is None:
            raise NotFound(LETTER_NOT_FOUND)
        if row.content is None or row.size > self.max_attachment:
            raise NotFound(ATTACHMENT_NOT_KEPT, reason=row.refused or "")
        return row.filename, row.content_type, row.content

    async def render_for(
        self, template_id: int, contact_id: int, mailbox_id: int | None, actor: Actor
    ) -> dict[str, str]:
        """A named template's subject and body as they would be sent to this contact,
        from a mailbox the actor may send from (another user's is refused, as `send`
        refuses it: its name and address are not shown either)."""
        async with self.db.session() as session:
            named = await TEMPLATES.get(session, template_id)
            contact = await CONTACTS.get(session, contact_id)
            company = await session.get(Company, contact.company_id) if contact.company_id else None
            box = await session.get(Mailbox, mailbox_id) if mailbox_id else None
            if box is not None and box.owner_id not in (None, actor.user_id) and not actor.is_admin:
                raise Forbidden(NOT_YOURS, field="mailbox_id")
            context = letter_context(contact, company, actor.name, box)
            return render_template(named, _as_literal(context))

    async def send(self, contact_id: int, data: LetterSend, actor: Actor) -> dict[str, Any]:
        async with self.db.session() as session:
            contact = await session.get(Contact, contact_id)
            if contact is None:
                raise NotFound("contact not found")
            box = await session.get(Mailbox, data.mailbox_id)
            if box is None or not box.enabled:
                raise NotFound(MAILBOX_NOT_FOUND, field="mailbox_id")
            if box.owner_id is not None and box.owner_id != actor.user_id and not actor.is_admin:
                raise Forbidden(NOT_YOURS, field="mailbox_id")
            if not box.smtp_host:
                raise InvalidInput(CANNOT_SEND, field="mailbox_id")
            company = await session.get(Company, contact.company_id) if contact.company_id else None
            addresses = {e.lower(): e for e in contact.emails or []}
            to = data.to or next(iter(contact.emails or []), None)
            if not to:
                raise InvalidInput(NO_ADDRESS, field="to")
            if to.lower() not in addresses:
                raise InvalidInput(NOT_THEIRS, field="to")
            answered = await session.get(Letter, data.reply_to) if data.reply_to else None
            if data.reply_to and (answered is None or answered.contact_id != contact_id):
                raise NotFound(LETTER_NOT_FOUND, field="reply_to")
            context = letter_context(contact, company, actor.name, box)
            subject, body = data.subject, data.body
            if data.template_id is not None:
                named = await TEMPLATES.get(session, data.template_id)
                subject = subject or named.subject
                body = body or named.body
            if not body.strip():
                raise InvalidInput(NO_TEXT, field="body")
            message = _message(
                box,
                to,
                render(subject, context, "subject"),
                render(body, context, "body"),
            )
            if answered is not None and answered.message_id:
                message["In-Reply-To"] = answered.message_id
                message["References"] = " ".join(
                    [*(answered.reference_ids or []), answered.message_id][-20:]
                )
                if not message["Subject"]:
                    del message["Subject"]
                    message["Subject"] = _re(answered.subject)
            password = self.passwords.decrypt(box.password_encrypted)
            smtp = (box.smtp_host, box.smtp_port, box.smtp_security, box.smtp_login or box.login)
            sent_folder = box.sent_folder
            imap = ImapAccount(
                box.imap_host, box.imap_port, box.imap_ssl, box.login, password, self.timeout
            )
        await self._smtp(message, *smtp, password)
        raw = message.as_bytes()
        async with self.db.transaction() as session:
            ids = await self._keep_sent(session, raw, box.id, contact, actor.user_id)
            rows = (await session.scalars(select(Letter).where(Letter.id.in_(ids)))).all()
            view = (await letter_views(session, rows))[0]
        if sent_folder:
            try:
                async with imap_session(imap) as folder:
                    await folder.append(sent_folder, raw)
            except (ImapError, OSError) as exc:
                log.warning("mailbox %s: the Sent copy was not kept: %s", box.id, exc)
        return view

    async def send_for_rule(self, session: AsyncSession, letter: dict[str, Any]) -> int:
        """The rules' `send_email` (`crm.rules.email_action.Mailer`): the letter planned
        (`mailbox_id`, `contact_id`, `to`, `subject`, `body`, already rendered) sent over
        the mailbox's SMTP and kept in the contact's timeline in `session`; its id."""
        box = await session.get(Mailbox, letter["mailbox_id"])
        contact = await session.get(Contact, letter["contact_id"])
        if box is None or contact is None:
            raise NotFound(MAILBOX_NOT_FOUND)
        message = _message(box, letter["to"], letter["subject"], letter["body"])
        password = self.passwords.decrypt(box.password_encrypted)
        await self._smtp(
            message,
            box.smtp_host,
            box.smtp_port,
            box.smtp_security,
            box.smtp_login or box.login,
            password,
        )
        ids = await self._keep_sent(session, message.as_bytes(), box.id, contact, None)
        return ids[0] if ids else 0

    async def _keep_sent(
        self,
        session: AsyncSession,
        raw: bytes,
        mailbox_id: int,
        contact: Contact,
        sent_by_id: int | None,
    ) -> list[int]:
        """A letter just sent, kept in the contact's timeline in `session`: its ids."""
        return await store_letter(
            session,
            parse_letter(raw, max_attachment=self.max_attachment),
            Place(mailbox_id),
            [(contact.id, contact.company_id)],
            direction=OUTBOUND,
            now=datetime.now(UTC),
            sent_by_id=sent_by_id,
        )

    async def _smtp(
        self,
        message: EmailMessage,
        host: str,
        port: int,
        security: str,
        login: str,
        password: str,
    ) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=host,
                port=port,
                username=login or None,
                password=password if login else None,
                use_tls=security == "ssl",
                start_tls=security == "starttls",
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("SMTP %s:%s: %s", host, port, exc)
            raise MailNotSent(NOT_SENT, reason=str(exc)[:300]) from exc


def letter_context(
    contact: Contact, company: Company | None, user_name: str, box: Mailbox | None
) -> dict[str, Any]:
    """What a letter's templates see: `contact`, `user`, `mailbox`."""
    return {
        "contact": {
            "name": contact.name,
            "emails": list(contact.emails or []),
            "company": company.name if company else "",
        },
        "user": {"name": user_name},
        "mailbox": {"name": box.name, "address": box.address}
        if box
        else {"name": "", "address": ""},
    }


_OPENER = re.compile(r"\{(?=[{%#])")


def _as_literal(value: Any) -> Any:
    """`value` with every `{{`, `{%`, `{#` of its texts written as a template that gives it
    back: a letter rendered for the form is sent as shown when rendered again."""
    if isinstance(value, str):
        return _OPENER.sub("{{ '{' }}", value)
    if isinstance(value, dict):
        return {k: _as_literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_literal(v) for v in value]
    return value


def _re(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _message(box: Mailbox, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((box.name, box.address))
    message["To"] = to
    message["Subject"] = subject.replace("\r", " ").replace("\n", " ")
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=box.address.rpartition("@")[2] or None)
    message.set_content(body)
    return message
