"""The admin's mailboxes: IMAP to read, SMTP to send; the password is never given back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Actor
from crm.contacts import require_user
from crm.database import Database
from crm.errors import NotFound
from crm.mail.crypto import PasswordBox
from crm.mail.models import Mailbox

Host = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=r"^\S+$")
]
OptionalHost = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=255, pattern=r"^\S*$")
]
Address = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+$",
    ),
]
Port = Annotated[int, Field(ge=1, le=65535)]
Folder = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Security = Literal["ssl", "starttls", "none"]
MAILBOX_NOT_FOUND = "no such mailbox"
Rows = list[dict[str, Any]]


class MailboxFields(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MailboxCreate(MailboxFields):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    address: Address
    owner_id: Annotated[int, Field(ge=1, le=2**53)] | None = None  # None: shared
    imap_host: Host
    imap_port: Port = 993
    imap_ssl: bool = True
    login: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    folder: Folder = "INBOX"
    sent_folder: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] = ""
    smtp_host: OptionalHost = ""
    smtp_port: Port = 465
    smtp_security: Security = "ssl"
    smtp_login: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] = ""
    create_contacts: bool = False
    enabled: bool = True


class MailboxUpdate(MailboxFields):
    """Only the fields given change; `password` only when given (never read back)."""

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
        | None
    ) = None
    address: Address | None = None
    owner_id: Annotated[int, Field(ge=1, le=2**53)] | None = None
    imap_host: Host | None = None
    imap_port: Port | None = None
    imap_ssl: bool | None = None
    login: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]
        | None
    ) = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    folder: Folder | None = None
    sent_folder: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None = (
        None
    )
    smtp_host: OptionalHost | None = None
    smtp_port: Port | None = None
    smtp_security: Security | None = None
    smtp_login: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = (
        None
    )
    create_contacts: bool | None = None
    enabled: bool | None = None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def mailbox_json(box: Mailbox) -> dict[str, Any]:
    """A mailbox as the API shows it: every setting but the password."""
    return {
        "id": box.id,
        "name": box.name,
        "address": box.address,
        "owner_id": box.owner_id,
        "imap_host": box.imap_host,
        "imap_port": box.imap_port,
        "imap_ssl": box.imap_ssl,
        "login": box.login,
        "has_password": bool(box.password_encrypted),
        "folder": box.folder,
        "sent_folder": box.sent_folder,
        "smtp_host": box.smtp_host,
        "smtp_port": box.smtp_port,
        "smtp_security": box.smtp_security,
        "smtp_login": box.smtp_login,
        "create_contacts": box.create_contacts,
        "enabled": box.enabled,
        "created_at": _iso(box.created_at),
        "polled_at": _iso(box.polled_at),
        "last_error": box.last_error,
    }


class MailboxService:
    def __init__(self, db: Database, passwords: PasswordBox) -> None:
        self.db = db
        self.passwords = passwords
        self.changed: list[Callable[[], None]] = []  # the poller's wake-up

    def _changed(self) -> None:
        for listener in self.changed:
            listener()

    async def list(self) -> Rows:
        async with self.db.session() as session:
            boxes = (await session.scalars(select(Mailbox).order_by(Mailbox.id))).all()
            return [mailbox_json(b) for b in boxes]

    async def get(self, mailbox_id: int) -> dict[str, Any]:
        async with self.db.session() as session:
            return mailbox_json(await _get(session, mailbox_id))

    async def exists(self) -> bool:
        async with self.db.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(Mailbox).where(Mailbox.enabled.is_(True))
            )
            return bool(count)

    async def usable_by(self, user_id: int) -> Rows:
        """The mailboxes a user may send from: their own and the shared ones."""
        async with self.db.session() as session:
            boxes = await session.scalars(
                select(Mailbox)
                .where(
                    Mailbox.enabled.is_(True),
                    Mailbox.smtp_host != "",
                    (Mailbox.owner_id.is_(None)) | (Mailbox.owner_id == user_id),
                )
                .order_by(Mailbox.id)
            )
            return [{"id": b.id, "name": b.name, "address": b.address} for b in boxes]

    async def create(self, data: MailboxCreate, actor: Actor) -> dict[str, Any]:
        actor.require_admin("manage mailboxes")
        fields = data.model_dump(exclude={"password"})
        encrypted = self.passwords.encrypt(data.password)
        async with self.db.transaction() as session:
            await require_user(session, data.owner_id, "owner_id")
            box = Mailbox(**fields, password_encrypted=encrypted, created_at=datetime.now(UTC))
            session.add(box)
            await session.flush()
            view = mailbox_json(box)
        self._changed()
        return view

    async def update(self, mailbox_id: int, data: MailboxUpdate, actor: Actor) -> dict[str, Any]:
        actor.require_admin("manage mailboxes")
        given = data.model_dump(exclude_unset=True, exclude={"password"})
        async with self.db.transaction() as session:
            box = await _get(session, mailbox_id)
            if "owner_id" in given:
                await require_user(session, given["owner_id"], "owner_id")
            for key, value in given.items():
                if value is not None or key == "owner_id":
                    setattr(box, key, value)
            if data.password is not None:
                box.password_encrypted = self.passwords.encrypt(data.password)
                box.last_error = None
            await session.flush()
            view = mailbox_json(box)
        self._changed()
        return view

    async def checked(self, mailbox_id: int, error: str | None) -> None:
        """A "check now" (`crm.mail.check`): its outcome is the mailbox's `last_error`;
        the poller is woken for a round."""
        async with self.db.transaction() as session:
            box = await session.get(Mailbox, mailbox_id)
            if box is not None:
                box.last_error = error[:500] if error else None
        self._changed()

    async def delete(self, mailbox_id: int, actor: Actor) -> None:
        """The mailbox goes; the letters read from it stay in the contacts' histories."""
        actor.require_admin("manage mailboxes")
        async with self.db.transaction() as session:
            await session.delete(await _get(session, mailbox_id))
        self._changed()


async def _get(session: AsyncSession, mailbox_id: int) -> Mailbox:
    box = await session.get(Mailbox, mailbox_id)
    if box is None:
        raise NotFound(MAILBOX_NOT_FOUND, field="mailbox_id")
    return box
