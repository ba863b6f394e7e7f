"""The task "mail-poller": new letters of every enabled mailbox, by UID, into the
contacts' timelines.

Per mailbox and folder (the one polled, and the Sent folder when set) it keeps the
folder's UIDVALIDITY and the last UID read (`mail_folder_states`), updated in the
transaction that stores the letter, so a restart goes on after the last letter kept and
never reads one twice. A new UIDVALIDITY (the folder was re-created or the server's
index rebuilt) means the old UIDs say nothing: the folder is read again from its start
and the letters already kept are recognised by their Message-ID.

A letter the poller cannot read (a bad charset, a broken header, no From, an attachment
over TRUBKA_MAIL_MAX_ATTACHMENT) is kept with what can be read and its `problems`; a
letter over TRUBKA_MAIL_MAX_LETTER is kept from its header only; a letter that still
cannot be handled is skipped with its reason in the log. Nothing a letter holds stops
the poller; a mailbox that cannot be reached keeps its error in `last_error` and is
tried again next round.

An inbound letter stored under a contact is also an `email.received` event for the
triggers, queued in the same transaction (`crm.mail.events`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Actor
from crm.contacts import ContactService
from crm.database import Database
from crm.errors import CrmError
from crm.mail.crypto import PasswordBox
from crm.mail.events import record_received
from crm.mail.imap import ImapAccount, ImapError, ImapSession, imap_session
from crm.mail.mailboxes import MailboxService
from crm.mail.models import INBOUND, Mailbox, MailFolderState
from crm.mail.parse import ParsedLetter, parse_letter
from crm.mail.store import Place, contacts_by_address, counterparts, store_letter
from crm.schemas import ContactCreate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollConfig:
    interval: float = 60.0  # seconds between rounds (a mailbox change wakes it at once)
    max_attachment: int = 10 * 1024 * 1024  # bytes of one attachment kept
    max_letter: int = 30 * 1024 * 1024  # a larger letter: its header only
    batch: int = 200  # letters per folder per round
    timeout: float = 30.0  # one IMAP command


@dataclass(frozen=True, slots=True)
class BoxInfo:
    id: int
    address: str
    owner_id: int | None
    create_contacts: bool
    account: ImapAccount
    folders: tuple[str, ...]


class MailPoller:
    def __init__(
        self,
        db: Database,
        mailboxes: MailboxService,
        contacts: ContactService,
        config: PollConfig | None = None,
    ) -> None:
        self.db = db
        self.passwords: PasswordBox = mailboxes.passwords
        self.mailboxes = mailboxes
        self.contacts = contacts
        self.config = config or PollConfig()
        self.rounds = 0  # rounds finished (tests wait on it)
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        mailboxes.changed.append(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Poll every TRUBKA_MAIL_POLL_INTERVAL seconds while an enabled mailbox exists;
        idle (until a mailbox changes) while none does."""
        while True:
            self._wake.clear()
            idle = False
            try:
                idle = not await self.mailboxes.exists()
                if not idle:
                    await self.poll_all()
            except Exception:  # the database away: the next round tries again
                log.exception("mail poller: the round failed")
            if idle:
                await self._wake.wait()
                continue
            try:
                async with asyncio.timeout(self.config.interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def poll_all(self) -> None:
        """One round over every enabled mailbox."""
        async with self._lock:
            for box in await self._boxes():
                error: str | None = None
                try:
                    await self.poll_mailbox(box)
                except (ImapError, OSError, TimeoutError) as exc:
                    error = str(exc) or type(exc).__name__
                    log.warning("mailbox %s: %s", box.id, error)
                except Exception as exc:  # e.g. the database away: the next round retries
                    error = f"{type(exc).__name__}: {exc}"
                    log.exception("mailbox %s: the round failed", box.id)
                await self._polled(box.id, error)
            self.rounds += 1

    async def _boxes(self) -> list[BoxInfo]:
        async with self.db.session() as session:
            rows = (
                await session.scalars(
                    select(Mailbox).where(Mailbox.enabled.is_(True)).order_by(Mailbox.id)
                )
            ).all()
        boxes = []
        for row in rows:
            try:
                password = self.passwords.decrypt(row.password_encrypted)
            except CrmError as exc:
                log.warning("mailbox %s: %s", row.id, exc.message)
                await self._polled(row.id, exc.message)
                continue
            account = ImapAccount(
                row.imap_host, row.imap_port, row.imap_ssl, row.login, password,
                timeout=self.config.timeout,
            )  # fmt: skip
            folders = tuple(dict.fromkeys(f for f in (row.folder, row.sent_folder) if f))
            boxes.append(
                BoxInfo(row.id, row.address, row.owner_id, row.create_contacts, account, folders)
            )
        return boxes

    async def _polled(self, mailbox_id: int, error: str | None) -> None:
        async with self.db.transaction() as session:
            box = await session.get(Mailbox, mailbox_id)
            if box is not None:
                box.polled_at = datetime.now(UTC)
                box.last_error = error[:500] if error else None

    async def poll_mailbox(self, box: BoxInfo) -> None:
        async with imap_session(box.account) as imap:
            for folder in box.folders:
                if await self.poll_folder(imap, box, folder):
                    self.wake()  # a full batch: the next round at once (a mailbox's history)

    async def poll_folder(self, imap: ImapSession, box: BoxInfo, folder: str) -> bool:
        """Read the folder's new letters (a batch); True when more are waiting."""
        uidvalidity = await imap.select(folder)
        last_uid = await self._start(box.id, folder, uidvalidity)
        waiting = await imap.uids_after(last_uid)
        uids = waiting[: self.config.batch]
        sizes = await imap.sizes(uids)
        for uid in uids:
            place = Place(box.id, folder, uidvalidity, uid)
            size = sizes.get(uid, 0)
            headers_only = size > self.config.max_letter
            raw = await imap.fetch(uid, headers_only=headers_only)
            letter = self._parsed(place, raw, size, headers_only)
            try:
                await self.keep(box, place, letter)
            except SQLAlchemyError as exc:  # this letter cannot be stored: skip it, say why
                log.warning("mailbox %s %s UID %s: refused, %s", *_where(place), exc)
                await self.keep(box, place, None)  # only moves past it (raises if the db is away)
        return len(waiting) > len(uids)

    def _parsed(
        self, place: Place, raw: bytes | None, size: int, headers_only: bool
    ) -> ParsedLetter | None:
        if raw is None:
            log.warning("mailbox %s %s UID %s: gone before it was read", *_where(place))
            return None
        try:
            letter = parse_letter(
                raw, max_attachment=self.config.max_attachment, headers_only=headers_only
            )
        except Exception as exc:  # parse_letter keeps what it can; this is the last resort
            log.warning("mailbox %s %s UID %s: refused, %r", *_where(place), exc)
            return None
        if headers_only:
            letter.size = size
            letter.problems.append(
                f"larger than {self.config.max_letter} bytes: only its header was read"
            )
        if letter.problems:
            log.info("mailbox %s %s UID %s: %s", *_where(place), "; ".join(letter.problems))
        return letter

    async def _start(self, mailbox_id: int, folder: str, uidvalidity: int) -> int:
        """The last UID read in this folder, 0 when it is new or its UIDVALIDITY changed."""
        async with self.db.transaction() as session:
            state = await _state(session, mailbox_id, folder)
            now = datetime.now(UTC)
            if state is None:
                session.add(
                    MailFolderState(
                        mailbox_id=mailbox_id,
                        folder=folder,
                        uidvalidity=uidvalidity,
                        last_uid=0,
                        updated_at=now,
                    )
                )
                return 0
            if state.uidvalidity != uidvalidity:
                log.warning(
                    "mailbox %s %s: UIDVALIDITY %s is now %s; reading the folder again "
                    "(letters already kept are known by their Message-ID)",
                    mailbox_id, folder, state.uidvalidity, uidvalidity,
                )  # fmt: skip
                state.uidvalidity, state.last_uid, state.updated_at = uidvalidity, 0, now
                return 0
            return state.last_uid

    async def keep(self, box: BoxInfo, place: Place, letter: ParsedLetter | None) -> list[int]:
        """Store `letter` under its contacts and move the folder's last UID past it, in
        one transaction; the ids of the letters stored."""
        direction, others = (
            counterparts(letter, box.address) if letter is not None else (INBOUND, [])
        )
        if letter is not None and others:
            await self._new_contact(box, letter, direction, others)
        async with self.db.transaction() as session:
            created: list[int] = []
            if letter is not None and others:
                found = await contacts_by_address(session, others)
                contacts = list(
                    dict.fromkeys(c for address in others for c in found.get(address, []))
                )
                created = await store_letter(
                    session, letter, place, contacts, direction=direction, now=datetime.now(UTC)
                )
                if direction == INBOUND:  # for the triggers, with the letter
                    await record_received(session, box.address, created)
            state = await _state(session, box.id, place.folder or "")
            if state is not None and state.uidvalidity == place.uidvalidity:
                state.last_uid = max(state.last_uid, place.uid or 0)
                state.updated_at = datetime.now(UTC)
            return created

    async def _new_contact(
        self, box: BoxInfo, letter: ParsedLetter, direction: str, others: list[str]
    ) -> None:
        """An unknown sender becomes a contact, when the mailbox says so."""
        if not box.create_contacts or direction != INBOUND or not letter.from_address:
            return
        async with self.db.session() as session:
            if await contacts_by_address(session, others):
                return
        name = (letter.from_name or letter.from_address)[:255]
        try:
            data = ContactCreate(name=name, emails=[letter.from_address], owner_id=box.owner_id)
            await self.contacts.create(data, Actor.system())
        except (ValidationError, CrmError) as exc:
            log.warning("mailbox %s: no contact made for %s: %s", box.id, letter.from_address, exc)


async def _state(session: AsyncSession, mailbox_id: int, folder: str) -> MailFolderState | None:
    found = await session.scalars(
        select(MailFolderState).where(
            MailFolderState.mailbox_id == mailbox_id, MailFolderState.folder == folder
        )
    )
    return found.first()


def _where(place: Place) -> tuple[int | None, str | None, int | None]:
    return place.mailbox_id, place.folder, place.uid
