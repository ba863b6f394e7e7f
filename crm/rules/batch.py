"""One round of the rules worker as one batch: what its events read is loaded once (their
contacts with tags and companies; webhooks and supervisors when first asked for), and what
their actions make is written at the end in a few statements — the tasks in one, the
panel notices in one, the webhook events and deliveries in a few — inside the round's
transaction, next to the action keys and the run log
(`crm.rules.worker.RuleWorker.together`).

Task and notice ids are known before the keys and the run log are written: on PostgreSQL from the
INSERT's RETURNING (in the rows' order), on SQLite given by the batch itself after the
round's first write (the transaction then holds SQLite's only write lock, so the next ids
after the largest are free — what SQLite would have picked).

The rows of one INSERT are turned into parameters on the event loop (JSON, times), so a
big round is written `ROWS` rows a statement, the loop given back between two
(`insert_rows`): the screen pop never waits behind a whole round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.database import UTCDateTime, json_text
from crm.hooks.models import PENDING, Webhook, WebhookDelivery, WebhookEvent
from crm.models import Company, Contact, ContactTag, Task, User
from crm.notices import Notice
from crm.rules.models import table_of
from kernel import urgency

ROWS = 50  # rows per INSERT (the runs of about 5 events: about a millisecond of work)


async def insert_rows(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT the rows, `ROWS` a statement, giving the loop back between two."""
    for start in range(0, len(rows), ROWS):
        if start:
            await asyncio.sleep(0)
            await urgency.step_aside()
        await session.execute(insert(table), rows[start : start + ROWS])


def _sqlite_time(value: datetime) -> str:
    """What `UTCDateTime` stores on SQLite: naive UTC text, microseconds always."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}"
    )


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value


_PLACEHOLDERS: dict[str, Callable[[int], str]] = {
    "qmark": lambda _i: "?",
    "numeric_dollar": lambda i: f"${i}",
    "format": lambda _i: "%s",
}


@dataclass(frozen=True)
class _Plain:
    sql: str
    values: Callable[[dict[str, Any]], tuple[Any, ...]]  # a row's values, in order
    ready: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, made ready by)


@lru_cache(maxsize=32)
def _plain_insert(table: Table, dialect: str, paramstyle: str) -> _Plain:
    """The INSERT of every column but an autoincremented id, in the driver's own
    placeholders, and which values are made ready for the driver, how."""
    columns = [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]
    sqlite = dialect == "sqlite"
    ready: list[tuple[int, Callable[[Any], Any]]] = []
    for position, column in enumerate(columns):
        kind = column.type
        if isinstance(kind, UTCDateTime):
            ready.append((position, _sqlite_time if sqlite else _aware))
        elif isinstance(kind, JSON):
            ready.append((position, json_text))
        elif not isinstance(kind, Integer | String | Boolean):
            raise TypeError(f"{table.name}.{column.name}: no plain form for {kind!r}")
    mark = _PLACEHOLDERS[paramstyle]
    sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(
        table.name,
        ", ".join(f'"{c.name}"' for c in columns),
        ", ".join(mark(i) for i in range(1, len(columns) + 1)),
    )
    names = [c.name for c in columns]
    values = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    return _Plain(sql, values, tuple(ready))


def _ready(plain: _Plain, row: dict[str, Any]) -> tuple[Any, ...]:
    values = list(plain.values(row))  # a missing column: KeyError
    for position, make in plain.ready:
        values[position] = make(values[position])
    return tuple(values)


async def insert_plain(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """`insert_rows` straight through the driver: each value made ready once here (UTC
    times, JSON text) instead of SQLAlchemy's per-value processing of an executemany —
    most of the rules' CPU per event is the run log's ten rows. Tables of integers,
    strings, booleans, UTC times and JSON only (the run log, the action keys), every
    column but an autoincremented id given in each row."""
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.paramstyle not in _PLACEHOLDERS:
        await insert_rows(session, table, rows)
        return
    plain = _plain_insert(table, dialect.name, dialect.paramstyle)
    for start in range(0, len(rows), ROWS):
        if start:
            await asyncio.sleep(0)
            await urgency.step_aside()
        await connection.exec_driver_sql(
            plain.sql, [_ready(plain, row) for row in rows[start : start + ROWS]]
        )


@dataclass
class HookRow:
    """A webhook event one action queues, with its delivery (`crm.rules.actions`)."""

    uid: str
    event: str
    occurred_at: datetime
    body: str
    webhook_id: int
    order_key: str


@dataclass
class Batch:
    dialect: str
    tasks: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    hooks: list[HookRow] = field(default_factory=list)
    tags: dict[int, list[str]] = field(default_factory=dict)  # contact id → its tags
    webhooks: dict[int, Webhook | None] = field(default_factory=dict)
    supervisors: dict[str, int | None] = field(default_factory=dict)  # login → active user
    held: list[Any] = field(default_factory=list)  # keeps preloaded rows in the identity map
    # the preloaded rows by id: an event's facts and its tasks take them from here, not
    # through `await session.get` (a greenlet switch per event even when in the map)
    contacts: dict[int, Contact] = field(default_factory=dict)
    companies: dict[int, Company] = field(default_factory=dict)
    uids: set[str] = field(default_factory=set)  # of `hooks`
    # the notices of `notify` actions: (planned, row, the `rule_notice` message)
    notices: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = field(
        default_factory=list
    )

    async def preload(self, session: AsyncSession, contact_ids: set[int]) -> None:
        """The round's contacts, their tags and companies: three statements at most."""
        if not contact_ids:
            return
        contacts = (
            await session.scalars(select(Contact).where(Contact.id.in_(sorted(contact_ids))))
        ).all()
        self.held += contacts
        self.contacts = {c.id: c for c in contacts}
        self.tags = {c.id: [] for c in contacts}
        rows = await session.execute(
            select(ContactTag.contact_id, ContactTag.tag)
            .where(ContactTag.contact_id.in_(list(self.tags)))
            .order_by(ContactTag.contact_id, ContactTag.tag)
        )
        for contact_id, tag in rows:
            self.tags[contact_id].append(tag)
        companies = {c.company_id for c in contacts if c.company_id}
        if companies:
            found = (
                await session.scalars(select(Company).where(Company.id.in_(sorted(companies))))
            ).all()
            self.held += found
            self.companies = {c.id: c for c in found}

    async def webhook(self, session: AsyncSession, webhook_id: int) -> Webhook | None:
        if webhook_id not in self.webhooks:
            self.webhooks[webhook_id] = await session.get(Webhook, webhook_id)
        return self.webhooks[webhook_id]

    async def supervisor(self, session: AsyncSession, login: str) -> int | None:
        if login not in self.supervisors:
            found = await session.scalar(
                select(User.id).where(User.login == login, User.active.is_(True))
            )
            self.supervisors[login] = int(found) if found is not None else None
        return self.supervisors[login]

    def queue(self, hook: HookRow) -> None:
        if hook.uid not in self.uids:
            self.uids.add(hook.uid)
            self.hooks.append(hook)

    async def write(self, session: AsyncSession) -> None:
        """The tasks, notices and webhook rows the round's actions made; fills in
        `task_id` and `notice_id`.
        Call it after the round's first write (see the module's docstring)."""
        await self._tasks(session)
        await self._notices(session)
        await self._hooks(session)

    async def _tasks(self, session: AsyncSession) -> None:
        if not self.tasks:
            return
        ids = await self._insert(session, Task, [row for _planned, row in self.tasks])
        for (planned, _row), task_id in zip(self.tasks, ids, strict=True):
            planned["task_id"] = task_id

    async def _notices(self, session: AsyncSession) -> None:
        """The notices in one statement (ROWS a statement), their ids into the results
        and the messages pushed after the commit."""
        if not self.notices:
            return
        ids = await self._insert(session, Notice, [row for _planned, row, _m in self.notices])
        for (planned, _row, message), notice_id in zip(self.notices, ids, strict=True):
            planned["notice_id"] = message["id"] = notice_id

    async def _insert(
        self, session: AsyncSession, model: type[Task] | type[Notice], rows: list[dict[str, Any]]
    ) -> list[int]:
        """INSERT the rows; their ids in the rows' order (see the module's docstring)."""
        table = table_of(model)
        if self.dialect == "sqlite":
            last = int(await session.scalar(select(func.max(table.c.id))) or 0)
            ids = list(range(last + 1, last + 1 + len(rows)))
            await insert_rows(
                session, table, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]
            )
        else:
            ids = []
            for start in range(0, len(rows), ROWS):
                if start:
                    await asyncio.sleep(0)
                made = await session.execute(
                    insert(table).returning(table.c.id, sort_by_parameter_order=True),
                    rows[start : start + ROWS],
                )
                ids += [int(i) for i in made.scalars().all()]
        return ids

    async def _hooks(self, session: AsyncSession) -> None:
        if not self.hooks:
            return
        uids = [h.uid for h in self.hooks]
        before = set(
            await session.scalars(select(WebhookEvent.uid).where(WebhookEvent.uid.in_(uids)))
        )
        fresh = [h for h in self.hooks if h.uid not in before]
        if not fresh:
            return
        await insert_rows(
            session,
            table_of(WebhookEvent),
            [
                {"uid": h.uid, "event": h.event, "occurred_at": h.occurred_at, "body": h.body}
                for h in fresh
            ],
        )
        made = await session.execute(
            select(WebhookEvent.uid, WebhookEvent.id).where(
                WebhookEvent.uid.in_([h.uid for h in fresh])
            )
        )
        ids = {uid: event_id for uid, event_id in made}
        await insert_rows(
            session,
            table_of(WebhookDelivery),
            [
                {
                    "webhook_id": h.webhook_id,
                    "event_id": ids[h.uid],
                    "order_key": h.order_key,
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": h.occurred_at,
                    "next_at": h.occurred_at,
                    "locked_until": None,
                    "finished_at": None,
                }
                for h in fresh
            ],
        )
