"""Letters into the database: matched to contacts by address, threaded, never twice.

A letter is kept once per contact it concerns: From, To and Cc other than the mailbox's
own address, matched case-insensitively against the contacts' e-mails. It is not kept
again when the same (mailbox, folder, UIDVALIDITY, UID) or the same Message-ID is already
in that contact's history (a restart, a new UIDVALIDITY, the Sent copy of a letter sent
from the card). Its thread is the thread of any stored letter it answers (In-Reply-To,
References), else the first of its References (the thread's first letter, even when
that one is not stored), else its own Message-ID.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.mail.models import INBOUND, OUTBOUND, Letter, LetterAttachment
from crm.mail.parse import ParsedLetter
from crm.models import Contact

MAX_CONTACTS = 20  # contacts one letter is filed under, at most


@dataclass(frozen=True, slots=True)
class Place:
    """Where a letter was read (all None for a letter sent from Trubka)."""

    mailbox_id: int | None
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None


async def contacts_by_address(
    session: AsyncSession, addresses: Iterable[str]
) -> dict[str, list[tuple[int, int | None]]]:
    """address (lower case) → [(contact id, company id)] of the contacts that have it."""
    wanted = [a.lower() for a in addresses if a]
    if not wanted:
        return {}
    emails_text = func.lower(cast(Contact.emails, String))
    rows = await session.execute(
        select(Contact.id, Contact.company_id, Contact.emails)
        .where(or_(*(emails_text.contains(f'"{a}"', autoescape=True) for a in wanted)))
        .order_by(Contact.id)
        .limit(200)
    )
    found: dict[str, list[tuple[int, int | None]]] = {}
    for contact_id, company_id, emails in rows:
        have = {str(e).lower() for e in emails or []}
        for address in wanted:
            if address in have:
                found.setdefault(address, []).append((contact_id, company_id))
    return found


def counterparts(letter: ParsedLetter, own_address: str) -> tuple[str, list[str]]:
    """The letter's direction for a mailbox and the addresses of the other side."""
    own = own_address.lower()
    direction = OUTBOUND if letter.from_address == own else INBOUND
    return direction, [a for a in letter.addresses if a != own]


async def thread_of(session: AsyncSession, letter: ParsedLetter) -> str:
    asked = [m for m in [letter.in_reply_to, *reversed(letter.references)] if m]
    if asked:
        known = await session.execute(
            select(Letter.message_id, Letter.thread_key).where(Letter.message_id.in_(asked))
        )
        keys = dict(known.all())
        for message_id in asked:
            if message_id in keys:
                return keys[message_id]
    first = letter.references[0] if letter.references else letter.in_reply_to
    return first or letter.message_id or f"<trubka-{uuid.uuid4()}>"


async def store_letter(
    session: AsyncSession,
    letter: ParsedLetter,
    place: Place,
    contacts: Sequence[tuple[int, int | None]],
    *,
    direction: str,
    now: datetime,
    sent_by_id: int | None = None,
) -> list[int]:
    """Keep `letter` under each of `contacts` that does not have it yet; the new ids."""
    if not contacts:
        return []
    have: set[int | None] = set()
    ids = [c for c, _ in contacts]
    if letter.message_id:
        have.update(
            (
                await session.scalars(
                    select(Letter.contact_id).where(
                        Letter.message_id == letter.message_id, Letter.contact_id.in_(ids)
                    )
                )
            ).all()
        )
    if place.uid is not None:
        have.update(
            (
                await session.scalars(
                    select(Letter.contact_id).where(
                        Letter.mailbox_id == place.mailbox_id,
                        Letter.folder == place.folder,
                        Letter.uidvalidity == place.uidvalidity,
                        Letter.uid == place.uid,
                    )
                )
            ).all()
        )
    todo = [(c, company) for c, company in contacts[:MAX_CONTACTS] if c not in have]
    if not todo:
        return []
    thread = await thread_of(session, letter)
    at = letter.date if letter.date is not None and letter.date <= now else now
    created = []
    for contact_id, company_id in todo:
        row = Letter(
            mailbox_id=place.mailbox_id,
            contact_id=contact_id,
            company_id=company_id,
            direction=direction,
            folder=place.folder,
            uidvalidity=place.uidvalidity,
            uid=place.uid,
            message_id=letter.message_id,
            in_reply_to=letter.in_reply_to,
            reference_ids=letter.references,
            thread_key=thread[:500],
            subject=letter.subject,
            from_address=letter.from_address,
            from_name=letter.from_name,
            to_addresses=letter.to,
            cc_addresses=letter.cc,
            text=letter.text,
            problems=letter.problems[:20],
            size=letter.size,
            at=at,
            created_at=now,
            sent_by_id=sent_by_id,
        )
        session.add(row)
        await session.flush()
        session.add_all(
            LetterAttachment(
                letter_id=row.id,
                n=n,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                content=a.content,
                refused=a.refused,
            )
            for n, a in enumerate(letter.attachments, start=1)
        )
        created.append(row.id)
    await session.flush()
    return created


# --- views ---------------------------------------------------------------------------
ATTACHMENT_COLUMNS = (
    LetterAttachment.letter_id,
    LetterAttachment.n,
    LetterAttachment.filename,
    LetterAttachment.content_type,
    LetterAttachment.size,
    LetterAttachment.refused,
)


async def attachments_of(session: AsyncSession, letter_ids: list[int]) -> dict[int, list[Any]]:
    if not letter_ids:
        return {}
    rows = await session.execute(
        select(*ATTACHMENT_COLUMNS)
        .where(LetterAttachment.letter_id.in_(letter_ids))
        .order_by(LetterAttachment.letter_id, LetterAttachment.n)
    )
    found: dict[int, list[Any]] = {}
    for row in rows:
        found.setdefault(row.letter_id, []).append(row)
    return found


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def letter_json(row: Any, attachments: list[Any]) -> dict[str, Any]:
    """A letter as the API and the timeline give it (its text is plain text)."""
    return {
        "id": row.id,
        "direction": row.direction,
        "mailbox_id": row.mailbox_id,
        "contact_id": row.contact_id,
        "at": _iso(row.at),
        "subject": row.subject,
        "from": {"address": row.from_address, "name": row.from_name},
        "to": list(row.to_addresses or []),
        "cc": list(row.cc_addresses or []),
        "message_id": row.message_id,
        "in_reply_to": row.in_reply_to,
        "thread_key": row.thread_key,
        "text": row.text,
        "problems": list(row.problems or []),
        "attachments": [
            {
                "n": a.n,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "available": a.refused is None,
                "refused": a.refused,
                "url": f"/api/letters/{row.id}/attachments/{a.n}",
            }
            for a in attachments
        ],
    }


async def letter_views(session: AsyncSession, rows: Sequence[Any]) -> list[dict[str, Any]]:
    found = await attachments_of(session, [r.id for r in rows])
    return [letter_json(r, found.get(r.id, [])) for r in rows]
