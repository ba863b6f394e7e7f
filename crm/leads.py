"""Inbound leads (`POST /api/inbound/leads`): a website form or another system sends a
person; the CRM finds or creates the contact, opens a deal and gives a task to a person.

- The contact is found by phone (normalised to E.164, so `8 (916) 123-45-67` and
  `+7 916 123 45 67` are one number), else by e-mail (case-insensitive); none: a new
  contact, owned by the default assignee when one is configured.
- An existing contact only gains what it lacks: a new number or e-mail is added, a
  company is set only when it has none, `source` is kept in `custom` only when unset. A
  stored value is never replaced or emptied.
- A deal is opened in the first stage of the default pipeline (title and amount from the
  request's `deal`, else "<name>"); a task to call back goes to the contact's owner, else
  the default assignee, else the admin whose API token sent the lead.
- Everything happens in one transaction, with the webhook events (`contact.created` or
  `contact.updated`, `deal.created`) and, when the request carries an `Idempotency-Key`,
  the answer stored under that key: a repeat gets the stored answer and changes nothing;
  the same key with another request is refused. Keys are kept `KEEP_KEYS` (7 days; older
  ones are deleted when a new key is stored).

Messages are English msgids (web/locale/ru/LC_MESSAGES/leads.po has their Russian).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import StringConstraints, field_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from crm import numbers
from crm.contacts import contact_search_text, contact_views
from crm.database import Database
from crm.deals import DealService, deal_views, minor, money
from crm.errors import Conflict, InvalidInput
from crm.hooks.models import InboundLead
from crm.hooks.outbox import emit
from crm.linking import relink_numbers
from crm.models import (
    Company,
    Contact,
    ContactTag,
    Deal,
    DealEvent,
    Phone,
    Stage,
    StageKind,
    Task,
    TaskKind,
    TaskStatus,
    User,
)
from crm.schemas import Email, Money, Strict
from crm.words import search_text, words

NEED_PHONE_OR_EMAIL = (
    "phone, email: give at least one of them; the contact is found or created by them"
)
PHONE_REFUSED = "phone: not a phone number; write it with its area code, e.g. +7 495 123-45-67"
KEY_REUSED = "this Idempotency-Key was already used with another request"
KEY_TOO_LONG = "Idempotency-Key: at most 200 characters"
MESSAGES = (NEED_PHONE_OR_EMAIL, PHONE_REFUSED, KEY_REUSED, KEY_TOO_LONG)

KEEP_KEYS = timedelta(days=7)  # how long an Idempotency-Key's answer is kept

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]


class LeadDeal(Strict):
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] = ""
    amount: Money | None = None


class LeadIn(Strict):
    """The lead as a form sends it; every field optional but a phone or an e-mail."""

    name: Text = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    email: Email | None = None
    company: Text = ""
    source: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] = ""
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""
    deal: LeadDeal | None = None

    @field_validator("email", mode="before")
    @classmethod
    def _blank_email(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


@dataclass(frozen=True, slots=True)
class LeadAnswer:
    contact_id: int
    deal_id: int
    task_id: int
    created: bool  # a new contact (False: an existing one was found and completed)
    replayed: bool = False  # the stored answer of an earlier request with the same key

    def to_json(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "deal_id": self.deal_id,
            "task_id": self.task_id,
            "created": self.created,
        }


# (language of the assignee, the lead) -> the task's title
TaskTitle = Callable[[str, LeadIn], str]


def request_hash(lead: LeadIn) -> str:
    canonical = json.dumps(lead.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def task_description(lead: LeadIn) -> str:
    lines = [
        f"{label}: {value}"
        for label, value in (
            ("name", lead.name),
            ("phone", lead.phone),
            ("email", lead.email or ""),
            ("company", lead.company),
            ("source", lead.source),
        )
        if value
    ]
    if lead.comment:
        lines += ["", lead.comment]
    return "\n".join(lines)


class LeadService:
    def __init__(self, db: Database, *, region: str = "RU") -> None:
        self.db = db
        self.region = region
        self.deals = DealService(db)

    def prepare_phone(self, lead: LeadIn) -> numbers.NumberInput | None:
        if not lead.phone and not lead.email:
            raise InvalidInput(NEED_PHONE_OR_EMAIL, field="phone")
        if not lead.phone:
            return None
        prepared = numbers.prepare(lead.phone, self.region, field="phone")
        if not prepared.valid:
            raise InvalidInput(PHONE_REFUSED, field="phone", value=prepared.raw)
        return prepared

    async def receive(
        self,
        lead: LeadIn,
        *,
        token_id: int,
        sender_id: int,
        title: TaskTitle,
        default_user_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> LeadAnswer:
        """Take one lead (see the module's docstring); `sender_id`: the admin the token
        acts as; `default_user_id`: owner of new contacts and fallback assignee."""
        phone = self.prepare_phone(lead)
        if idempotency_key is not None and len(idempotency_key) > 200:
            raise InvalidInput(KEY_TOO_LONG, field="Idempotency-Key")
        fingerprint = request_hash(lead)
        if idempotency_key:
            stored = await self._stored(token_id, idempotency_key, fingerprint)
            if stored is not None:
                return stored
        for attempt in (1, 2):
            try:
                return await self._store(
                    lead, phone, token_id, sender_id, title, default_user_id,
                    idempotency_key, fingerprint,
                )  # fmt: skip
            except StaleDataError:
                # an agent saved the same contact meanwhile: once more, over their change
                if attempt == 2:
                    raise
            except IntegrityError:
                # the same key, sent twice at once: the other request stored its answer first
                if not idempotency_key:
                    raise
                stored = await self._stored(token_id, idempotency_key, fingerprint)
                if stored is None:
                    raise
                return stored
        raise AssertionError("unreachable")  # pragma: no cover

    async def _store(
        self,
        lead: LeadIn,
        phone: numbers.NumberInput | None,
        token_id: int,
        sender_id: int,
        title: TaskTitle,
        default_user_id: int | None,
        idempotency_key: str | None,
        fingerprint: str,
    ) -> LeadAnswer:
        """The lead in one transaction, with its answer under the key (if any)."""
        async with self.db.transaction() as session:
            answer = await self._receive(session, lead, phone, sender_id, title, default_user_id)
            if idempotency_key:
                await session.execute(
                    delete(InboundLead).where(
                        InboundLead.created_at < datetime.now(UTC) - KEEP_KEYS
                    )
                )
                session.add(
                    InboundLead(
                        token_id=token_id,
                        idempotency_key=idempotency_key,
                        request_hash=fingerprint,
                        answer=answer.to_json(),
                        created_at=datetime.now(UTC),
                    )
                )
                await session.flush()
        return answer

    async def _stored(self, token_id: int, key: str, fingerprint: str) -> LeadAnswer | None:
        async with self.db.session() as session:
            row = await session.scalar(
                select(InboundLead).where(
                    InboundLead.token_id == token_id, InboundLead.idempotency_key == key
                )
            )
        if row is None:
            return None
        if row.request_hash != fingerprint:
            raise Conflict(KEY_REUSED)
        a = row.answer
        return LeadAnswer(
            int(a["contact_id"]), int(a["deal_id"]), int(a["task_id"]), bool(a["created"]), True
        )

    async def _receive(
        self,
        session: AsyncSession,
        lead: LeadIn,
        phone: numbers.NumberInput | None,
        sender_id: int,
        title: TaskTitle,
        default_user_id: int | None,
    ) -> LeadAnswer:
        stamp = datetime.now(UTC)
        contact = await self._find(session, phone, lead.email)
        created = contact is None
        touched: set[str] = set()
        if contact is None:
            contact = Contact(
                name=lead.name or (phone.raw if phone else lead.email) or "",
                owner_id=default_user_id,
                emails=[lead.email] if lead.email else [],
                custom={"source": lead.source} if lead.source else {},
                search_text="",
                created_at=stamp,
                updated_at=stamp,
            )
            session.add(contact)
            await session.flush()
        else:
            if lead.email and lead.email.casefold() not in {
                e.casefold() for e in contact.emails or []
            }:
                contact.emails = [*(contact.emails or []), lead.email]
            if lead.source and not (contact.custom or {}).get("source"):
                contact.custom = {**(contact.custom or {}), "source": lead.source}
            contact.updated_at = stamp
        if phone is not None:
            held = set(
                (
                    await session.scalars(
                        select(Phone.number).where(Phone.contact_id == contact.id)
                    )
                ).all()
            )
            if phone.number not in held:
                session.add(Phone(contact_id=contact.id, **phone.row(len(held))))
                touched.add(phone.number)
        company = await self._company(session, contact, lead.company, default_user_id, stamp)
        tags = list(
            (
                await session.scalars(
                    select(ContactTag.tag).where(ContactTag.contact_id == contact.id)
                )
            ).all()
        )
        contact.search_text = contact_search_text(
            contact.name, company.name if company else None, tags, contact.emails or []
        )
        await session.flush()
        await relink_numbers(session, touched)
        view = (await contact_views(session, [contact]))[0]
        await emit(
            session,
            "contact.created" if created else "contact.updated",
            view,
            contact_id=contact.id,
        )
        owner_active = contact.owner_id is not None and bool(
            await session.scalar(select(User.active).where(User.id == contact.owner_id))
        )
        # the owner, unless deactivated; else the default assignee; else the token's admin
        assignee_id = (contact.owner_id if owner_active else None) or default_user_id or sender_id
        deal = await self._open_deal(session, lead, contact, assignee_id, sender_id, stamp)
        language = await session.scalar(select(User.language).where(User.id == assignee_id))
        task = Task(
            kind=TaskKind.CALL_BACK.value,
            title=title(language or "ru", lead)[:255],
            description=task_description(lead),
            status=TaskStatus.OPEN.value,
            due_at=stamp,
            assignee_id=assignee_id,
            created_by_id=sender_id,
            contact_id=contact.id,
            company_id=contact.company_id,
            deal_id=deal.id,
            created_at=stamp,
            updated_at=stamp,
        )
        session.add(task)
        await session.flush()
        return LeadAnswer(contact.id, deal.id, task.id, created)

    async def _find(
        self, session: AsyncSession, phone: numbers.NumberInput | None, email: str | None
    ) -> Contact | None:
        if phone is not None:
            contact_id = await session.scalar(
                select(Phone.contact_id)
                .where(Phone.number == phone.number, Phone.contact_id.is_not(None))
                .order_by(Phone.contact_id)
                .limit(1)
            )
            if contact_id is not None:
                return await session.get(Contact, contact_id)
        if email:
            wanted = email.casefold()
            # every word of the address is in the contact's search text (bound parameters;
            # words hold letters and digits only), then the exact address among its e-mails
            candidates = (
                await session.scalars(
                    select(Contact)
                    .where(*(Contact.search_text.contains(w) for w in words(email)))
                    .order_by(Contact.id)
                    .limit(200)
                )
            ).all()
            for contact in candidates:
                if wanted in {e.casefold() for e in contact.emails or []}:
                    return contact
        return None

    async def _company(
        self,
        session: AsyncSession,
        contact: Contact,
        name: str,
        owner_id: int | None,
        stamp: datetime,
    ) -> Company | None:
        """The contact's company; a named one is set only when it has none (found by its
        exact name, else created)."""
        if contact.company_id is not None:
            return await session.get(Company, contact.company_id)
        if not name:
            return None
        company = await session.scalar(
            select(Company).where(Company.name == name).order_by(Company.id).limit(1)
        )
        if company is None:
            company = Company(
                name=name,
                owner_id=owner_id,
                custom={},
                search_text=search_text([name]),
                created_at=stamp,
                updated_at=stamp,
            )
            session.add(company)
            await session.flush()
        contact.company_id = company.id
        return company

    async def _open_deal(
        self,
        session: AsyncSession,
        lead: LeadIn,
        contact: Contact,
        owner_id: int,
        sender_id: int,
        stamp: datetime,
    ) -> Deal:
        pipeline = await self.deals.pipelines.ensure_default(session)
        stage = await session.scalar(
            select(Stage)
            .where(Stage.pipeline_id == pipeline.id)
            .order_by(Stage.position, Stage.id)
            .limit(1)
        )
        if stage is None:
            raise InvalidInput("this pipeline has no stages", field="pipeline_id")
        wanted = lead.deal or LeadDeal()
        deal = Deal(
            title=(wanted.title or contact.name)[:255],
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            amount_minor=minor(wanted.amount),
            currency="RUB",
            contact_id=contact.id,
            company_id=contact.company_id,
            owner_id=owner_id,
            created_at=stamp,
            updated_at=stamp,
            closed_at=stamp if stage.kind != StageKind.OPEN else None,
        )
        session.add(deal)
        await session.flush()
        session.add(
            DealEvent(
                deal_id=deal.id,
                contact_id=deal.contact_id,
                company_id=deal.company_id,
                user_id=sender_id,
                at=stamp,
                kind="created",
                to_stage_id=stage.id,
                detail={
                    "title": deal.title,
                    "stage": stage.name,
                    "amount": money(deal.amount_minor),
                },
            )
        )
        await session.flush()
        view = (await deal_views(session, [deal]))[0]
        await emit(session, "deal.created", view, contact_id=contact.id)
        return deal
