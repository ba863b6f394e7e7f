"""Synthetic data in bulk (`trubka seed --contacts N --calls M`): demos and benchmarks.

Agents (created when there are none), companies, contacts with Russian and English
names, valid unique numbers, e-mails, tags and owners, and a year of call history with
agents — linked to contacts and companies exactly as `crm.linking` would link them.

Speed: rows are generated in chunks and written with the driver's bulk path (SQLite:
`executemany` in one transaction with the tables' secondary indexes and search triggers
dropped and rebuilt afterwards; PostgreSQL: `COPY`). Ten million calls take minutes.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from crm.database import Database, sqlite_path
from crm.models import Company, Contact, Role, User
from crm.names import TAGS, company, email_for, person
from crm.users import UserService
from crm.words import search_text

CHUNK = 50_000
AGENT_INTERFACE = "Local/{ext}@agents/n"

COMPANY_COLUMNS = (
    "id",
    "name",
    "owner_id",
    "custom",
    "search_text",
    "created_by_id",
    "created_at",
    "updated_at",
    "version",
)
CONTACT_COLUMNS = (
    "id",
    "name",
    "company_id",
    "owner_id",
    "emails",
    "custom",
    "search_text",
    "created_by_id",
    "created_at",
    "updated_at",
    "version",
)
PHONE_COLUMNS = (
    "id",
    "contact_id",
    "company_id",
    "raw",
    "number",
    "valid",
    "digits_rev",
    "label",
    "position",
)
TAG_COLUMNS = ("contact_id", "tag")
CALL_COLUMNS = (
    "id",
    "linkedid",
    "direction",
    "caller_number",
    "caller_name",
    "called_number",
    "queue",
    "agent_interface",
    "agent_name",
    "started_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "disposition",
    "routed_by",
    "routing_reason",
    "recording_file",
    "queue_hold_seconds",
    "queue_talk_seconds",
    "agents",
    "contact_id",
    "ended_during_outage",
    "timeline",
    "company_id",
)
Progress = Callable[[str, int], None]


@dataclass
class SeedReport:
    agents_created: list[str]
    password: str | None
    companies: int
    contacts: int
    calls: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Agent:
    id: int
    name: str
    interface: str

    @property
    def extension(self) -> str:
        """`Local/101@agents/n` → `101` (the caller number of its outbound calls)."""
        return self.interface.split("/", 1)[-1].split("@")[0].split("/")[0]


MOBILE_CODES = (
    "903",
    "905",
    "906",
    "909",
    "910",
    "912",
    "915",
    "916",
    "917",
    "919",
    "925",
    "926",
    "929",
    "977",
    "985",
    "999",
)


def mobile(index: int) -> str:
    """A unique, valid Russian mobile number for each index below 1.6·10^8."""
    code = MOBILE_CODES[index % len(MOBILE_CODES)]
    return f"+7{code}{((index // len(MOBILE_CODES)) * 7_919 + 13_579) % 10_000_000:07d}"


def landline(index: int) -> str:
    """A unique, valid Moscow number (+7495…) for each index below 10^7."""
    return f"+7495{(index * 7_703 + 1_234) % 10_000_000:07d}"


async def ensure_agents(db: Database, count: int) -> tuple[list[Agent], list[str], str | None]:
    """Existing agents, or `count` new ones (agent101…) with a printed random password."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(User.id, User.name)
                .where(User.role == Role.AGENT.value, User.active.is_(True))
                .order_by(User.id)
            )
        ).all()
    users = UserService(db)
    agents = []
    for uid, name in rows:
        info = await users.get(uid)
        if info.interfaces:
            agents.append(Agent(uid, name, info.interfaces[0]))
    if agents:
        return agents, [], None
    password = secrets.token_urlsafe(9)
    created: list[str] = []
    rng = random.Random(101)
    ext = 100
    while len(created) < count:
        ext += 1
        if await users.get_by_login(f"agent{ext}") is not None:
            continue
        async with db.session() as session:
            taken = await session.scalar(
                text("SELECT 1 FROM user_interfaces WHERE key = :k"), {"k": f"local/{ext}@agents"}
            )
        if taken:
            continue
        info = await users.create(
            login=f"agent{ext}",
            name=person(rng),
            role=Role.AGENT,
            password=password,
            interfaces=[AGENT_INTERFACE.format(ext=ext)],
            queues=["support"],
        )
        created.append(info.login)
        agents.append(Agent(info.id, info.name, info.interfaces[0]))
    return agents, created, password


def _dt(value: datetime, dialect: str) -> Any:
    if dialect == "sqlite":
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class _Generator:
    def __init__(
        self, rng: random.Random, dialect: str, agents: list[Agent], now: datetime
    ) -> None:
        self.rng = rng
        self.dialect = dialect
        self.agents = agents
        self.now = now

    def companies(
        self, first_id: int, count: int
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        stamp = _dt(self.now, self.dialect)
        rows: list[tuple[Any, ...]] = []
        phones: list[tuple[Any, ...]] = []
        for i in range(count):
            cid = first_id + i
            name = company(self.rng, cid)
            owner = (
                self.rng.choice(self.agents).id if self.agents and self.rng.random() < 0.7 else None
            )
            rows.append((cid, name, owner, "{}", search_text([name]), None, stamp, stamp, 1))
            number = landline(cid)
            phones.append(
                (None, None, cid, number, number, True, "".join(reversed(number[1:])), "офис", 0)
            )
            if len(rows) >= CHUNK:
                yield rows, phones
                rows, phones = [], []
        if rows:
            yield rows, phones

    def contacts(
        self,
        first_id: int,
        count: int,
        companies: list[tuple[int, str]],
        numbers: list[str],
        owners_of: list[int | None],
        company_of: list[int | None],
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        rng = self.rng
        rows: list[tuple[Any, ...]] = []
        phones: list[tuple[Any, ...]] = []
        tags: list[tuple[Any, ...]] = []
        for i in range(count):
            cid = first_id + i
            name = person(rng)
            comp = rng.choice(companies) if companies and rng.random() < 0.3 else None
            owner = rng.choice(self.agents).id if self.agents and rng.random() < 0.7 else None
            emails = [email_for(name, rng, cid)] if rng.random() < 0.4 else []
            contact_tags = rng.sample(TAGS, rng.randint(1, 2)) if rng.random() < 0.3 else []
            created = self.now - timedelta(days=rng.random() * 400)
            stamp = _dt(created, self.dialect)
            rows.append(
                (
                    cid,
                    name,
                    comp[0] if comp else None,
                    owner,
                    json.dumps(emails),
                    "{}",
                    search_text([name, comp[1] if comp else None, *contact_tags, *emails]),
                    None,
                    stamp,
                    stamp,
                    1,
                )
            )
            number = mobile(cid)
            phones.append(
                (None, cid, None, number, number, True, "".join(reversed(number[1:])), None, 0)
            )
            numbers.append(number)
            owners_of.append(owner)
            company_of.append(comp[0] if comp else None)
            if rng.random() < 0.1:
                second = landline(5_000_000 + cid)
                phones.append(
                    (
                        None,
                        cid,
                        None,
                        second,
                        second,
                        True,
                        "".join(reversed(second[1:])),
                        "рабочий",
                        1,
                    )
                )
            tags.extend((cid, t) for t in contact_tags)
            if len(rows) >= CHUNK:
                yield rows, phones, tags
                rows, phones, tags = [], [], []
        if rows:
            yield rows, phones, tags

    def calls(
        self,
        first_id: int,
        count: int,
        numbers: list[str],
        contact_ids: list[int],
        owners_of: list[int | None],
        company_of: list[int | None],
    ) -> Iterator[list[tuple[Any, ...]]]:
        rng = self.rng
        agents_by_id = {a.id: a for a in self.agents}
        span = 365 * 86400.0
        start_ts = self.now.timestamp() - span
        step = span / max(count, 1)
        rows: list[tuple[Any, ...]] = []
        dialect = self.dialect
        for i in range(count):
            ts = start_ts + i * step + rng.random() * step
            known = numbers and rng.random() < 0.85
            if known:
                k = rng.randrange(len(numbers))
                number = numbers[k]
                contact_id: int | None = contact_ids[k]
                company_id: int | None = company_of[k]
                owner: int | None = owners_of[k]
            else:
                number = f"+7965{rng.randrange(10_000_000):07d}"  # a code seeded contacts never get
                contact_id = company_id = owner = None
            inbound = rng.random() < 0.9
            roll = rng.random()
            disposition = (
                "answered"
                if roll < 0.8
                else "abandoned"
                if roll < 0.92
                else "no-answer"
                if roll < 0.97
                else "busy"
            )
            agent = None
            if disposition == "answered" and self.agents:
                agent = (
                    agents_by_id.get(owner) if owner is not None and rng.random() < 0.6 else None
                )
                agent = agent or rng.choice(self.agents)
            wait = rng.uniform(1, 40)
            talk = rng.uniform(20, 600) if agent else 0.0
            started = datetime.fromtimestamp(ts, UTC)
            answered = started + timedelta(seconds=wait) if agent else None
            ended = started + timedelta(seconds=wait + talk)
            interface = agent.interface if agent else None
            rows.append(
                (
                    first_id + i,
                    f"{int(ts)}.{first_id + i}",
                    "inbound" if inbound else "outbound",
                    number if inbound else (agent.extension if agent else "100"),
                    None,
                    "100" if inbound else number,
                    "support" if inbound else None,
                    interface,
                    agent.name if agent else None,
                    _dt(started, dialect),
                    _dt(answered, dialect) if answered else None,
                    _dt(ended, dialect),
                    round(wait, 3),
                    round(talk, 3),
                    disposition,
                    "queue" if inbound else None,
                    None,
                    None,
                    int(wait) if inbound else None,
                    int(talk) if inbound and agent else None,
                    json.dumps([interface] if interface else []),
                    contact_id,
                    False,
                    "[]",
                    company_id,
                )
            )
            if len(rows) >= CHUNK:
                yield rows
                rows = []
        if rows:
            yield rows


async def seed(
    db: Database,
    *,
    contacts: int,
    calls: int,
    agents: int = 10,
    companies: int | None = None,
    rng_seed: int | None = None,
    progress: Progress | None = None,
) -> SeedReport:
    started = time.perf_counter()
    rng = random.Random(rng_seed)
    agent_list, created, password = await ensure_agents(db, agents)
    company_count = (
        companies if companies is not None else max(contacts // 10, 1 if contacts else 0)
    )
    async with db.session() as session:
        next_company = (
            int(await session.scalar(select(func.coalesce(func.max(Company.id), 0))) or 0) + 1
        )
        next_contact = (
            int(await session.scalar(select(func.coalesce(func.max(Contact.id), 0))) or 0) + 1
        )
        next_phone = (
            int(await session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM phones")) or 0) + 1
        )
        next_call = (
            int(await session.scalar(text("SELECT COALESCE(MAX(id), 0) FROM calls")) or 0) + 1
        )
    gen = _Generator(rng, db.dialect, agent_list, datetime.now(UTC))
    writer: _Writer = _SqliteWriter(db) if db.dialect == "sqlite" else _PostgresWriter(db)
    await writer.begin()
    try:
        phone_id = next_phone
        company_names: list[tuple[int, str]] = []
        for rows, phones in gen.companies(next_company, company_count):
            company_names.extend((r[0], r[1]) for r in rows)
            await writer.write("companies", COMPANY_COLUMNS, rows)
            phone_rows = [(phone_id + j, *p[1:]) for j, p in enumerate(phones)]
            phone_id += len(phone_rows)
            await writer.write("phones", PHONE_COLUMNS, phone_rows)
            if progress:
                progress("companies", len(rows))
        numbers: list[str] = []
        owners_of: list[int | None] = []
        company_of: list[int | None] = []
        for rows, phones, tags in gen.contacts(
            next_contact, contacts, company_names, numbers, owners_of, company_of
        ):
            await writer.write("contacts", CONTACT_COLUMNS, rows)
            phone_rows = [(phone_id + j, *p[1:]) for j, p in enumerate(phones)]
            phone_id += len(phone_rows)
            await writer.write("phones", PHONE_COLUMNS, phone_rows)
            await writer.write("contact_tags", TAG_COLUMNS, tags)
            if progress:
                progress("contacts", len(rows))
        contact_ids = list(range(next_contact, next_contact + contacts))
        for rows in gen.calls(next_call, calls, numbers, contact_ids, owners_of, company_of):
            await writer.write("calls", CALL_COLUMNS, rows)
            if progress:
                progress("calls", len(rows))
        await writer.finish()
    except BaseException:
        await writer.abort()
        raise
    return SeedReport(
        created, password, company_count, contacts, calls, time.perf_counter() - started
    )


class _Writer:
    async def begin(self) -> None: ...
    async def write(
        self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None: ...
    async def finish(self) -> None: ...
    async def abort(self) -> None: ...


TABLES = ("companies", "contacts", "phones", "contact_tags", "calls")


class _SqliteWriter(_Writer):
    """One sqlite3 connection in a worker thread; indexes and triggers rebuilt at the end."""

    def __init__(self, db: Database) -> None:
        path = sqlite_path(db.url)
        if path is None:
            raise ValueError("seeding needs a SQLite file")
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.saved: list[str] = []

    def _begin(self) -> None:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("BEGIN IMMEDIATE")
        placeholders = ",".join("?" * len(TABLES))
        rows = conn.execute(
            f"SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ({placeholders}) "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL",
            TABLES,
        ).fetchall()
        for kind, name, sql in rows:
            self.saved.append(sql)
            conn.execute(f'DROP {kind.upper()} "{name}"')
        self.conn = conn

    async def begin(self) -> None:
        await asyncio.to_thread(self._begin)

    def _write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        assert self.conn is not None
        if not rows:
            return
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self.conn.executemany(sql, rows)

    async def write(
        self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        await asyncio.to_thread(self._write, table, columns, rows)

    def _finish(self) -> None:
        assert self.conn is not None
        for sql in self.saved:
            self.conn.execute(sql)
        self.conn.execute("INSERT INTO contacts_fts(contacts_fts) VALUES ('rebuild')")
        self.conn.execute("INSERT INTO companies_fts(companies_fts) VALUES ('rebuild')")
        self.conn.execute("INSERT INTO phones_digits_fts(phones_digits_fts) VALUES ('rebuild')")
        self.conn.execute("COMMIT")
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()

    async def finish(self) -> None:
        await asyncio.to_thread(self._finish)

    def _abort(self) -> None:
        if self.conn is not None:
            self.conn.execute("ROLLBACK")
            self.conn.close()

    async def abort(self) -> None:
        await asyncio.to_thread(self._abort)


class _PostgresWriter(_Writer):
    """COPY into the tables inside one transaction; secondary indexes rebuilt at the end."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.raw: Any = None
        self.conn: Any = None
        self.tx: Any = None
        self.saved: list[str] = []

    async def begin(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        url = self.db.engine.url.set(drivername="postgresql")
        self.conn = await asyncpg.connect(url.render_as_string(hide_password=False))
        self.tx = self.conn.transaction()
        await self.tx.start()
        rows = await self.conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
            "AND i.tablename = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conname = i.indexname)",
            list(TABLES),
        )
        for row in rows:
            self.saved.append(row["indexdef"])
            await self.conn.execute(f'DROP INDEX "{row["indexname"]}"')

    async def write(
        self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        if rows:
            await self.conn.copy_records_to_table(table, records=rows, columns=list(columns))

    async def finish(self) -> None:
        for sql in self.saved:
            await self.conn.execute(sql)
        for table in ("companies", "contacts", "phones", "calls"):
            await self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT "
                f"MAX(id) FROM {table}), 1))"
            )
        await self.tx.commit()
        for table in TABLES:
            await self.conn.execute(f"ANALYZE {table}")
        await self.conn.close()

    async def abort(self) -> None:
        if self.tx is not None:
            await self.tx.rollback()
        if self.conn is not None:
            await self.conn.close()
