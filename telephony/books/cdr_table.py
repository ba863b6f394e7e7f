"""Asterisk's CDR in a PostgreSQL table, as `cdr_pgsql` (or `cdr_adaptive_odbc`) writes it.

`TRUBKA_ASTERISK_CDR=postgresql://user:password@host/db#cdr` names the database and,
after `#`, the table (`cdr` when omitted; `schema.table` is allowed). Its columns are
cdr_pgsql's: calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata,
duration, billsec, disposition, amaflags, accountcode, uniqueid, userfield, peeraccount,
linkedid, sequence. `calldate` is the call's start; its answer and end follow from
`duration` and `billsec`, as in cdr_csv. A `timestamp` without a zone is the PBX's local
time (the reader is told its zone).

A row is written when its call ends, but ordered by when the call started: the reader
remembers the last row read by (calldate, sequence) and the latest end it saw, and
reads again from `lookback` before that row, keeping the rows after it and the ones
that ended since (a call which started earlier and ended later); the backfill
publishes only the calls Trubka has not stored. A call longer than `lookback` that
ends while Trubka is away is left to `trubka reconcile`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from telephony.books.cdr import ANSWERED, CdrRow

SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
LOOKBACK = timedelta(hours=2)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
COLUMNS = (
    "calldate",
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "duration",
    "billsec",
    "disposition",
    "accountcode",
    "uniqueid",
    "userfield",
    "linkedid",
    "sequence",
)


class CdrTableError(ValueError):
    """A `postgresql://…#table` setting that does not name a database and a table."""


def is_table_url(value: str) -> bool:
    return value.strip().lower().startswith(tuple(f"{s}://" for s in SCHEMES))


@dataclass(frozen=True, slots=True)
class CdrTable:
    """Where the CDR table is: a connection URL (asyncpg's form) and the table's name."""

    dsn: str = field(repr=False)  # holds the password
    schema: str | None
    table: str

    @classmethod
    def parse(cls, value: str) -> CdrTable:
        url, _, fragment = value.strip().partition("#")
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES or not parts.hostname:
            raise CdrTableError(f"not a PostgreSQL URL: {cls._redact(url)!r}")
        names = (fragment or "cdr").split(".")
        if len(names) > 2 or not all(_NAME.fullmatch(n) for n in names):
            raise CdrTableError(
                f"the table after '#' is a name (letters, digits, _) or schema.name: {fragment!r}"
            )
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))
        schema, table = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        return cls(dsn, schema, table)

    @property
    def qualified(self) -> str:
        """The table's name quoted for SQL (the name was checked to be a plain word)."""
        quoted = f'"{self.table}"'
        return f'"{self.schema}".{quoted}' if self.schema else quoted

    @staticmethod
    def _redact(url: str) -> str:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def __str__(self) -> str:
        """The table for messages and pages: the password is left out."""
        name = f"{self.schema}.{self.table}" if self.schema else self.table
        return f"{self._redact(self.dsn)}#{name}"


@dataclass(frozen=True, slots=True)
class TableCursor:
    """The last row read: its calldate (UTC) and sequence, and the latest end of a row
    read (its calldate + duration); empty before the first read."""

    calldate: datetime | None = None
    sequence: int = 0
    ended: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "calldate": self.calldate.isoformat() if self.calldate else None,
            "sequence": self.sequence,
            "ended": self.ended.isoformat() if self.ended else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TableCursor:
        if not data or not data.get("calldate"):
            return cls()
        ended = data.get("ended")
        return cls(
            datetime.fromisoformat(str(data["calldate"])),
            int(data.get("sequence") or 0),
            datetime.fromisoformat(str(ended)) if ended else None,
        )

    def is_new(self, calldate: datetime, sequence: int, row: CdrRow) -> bool:
        """Not read before: after the last row, or ended since the last read."""
        if self.calldate is None:
            return True
        if (calldate, sequence) > (self.calldate, self.sequence):
            return True
        # Asterisk writes a row when the call ends: one that ended after the latest end
        # read was not there yet (the backfill holds back the calls that just ended).
        return self.ended is None or row.end > self.ended


def _aware(value: datetime, zone: tzinfo) -> datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def row_of(record: Any, zone: tzinfo) -> CdrRow:
    """A table row (a mapping of cdr_pgsql's columns) as the CDR row cdr_csv would give."""
    start = _aware(record["calldate"], zone)
    duration = int(record["duration"] or 0)
    billsec = int(record["billsec"] or 0)
    end = start + timedelta(seconds=duration)
    disposition = record["disposition"] or ""
    answered = billsec > 0 or disposition == ANSWERED
    answer = end - timedelta(seconds=billsec) if answered else None
    uniqueid = record["uniqueid"] or ""
    return CdrRow(
        src=record["src"] or "",
        dst=record["dst"] or "",
        dcontext=record["dcontext"] or "",
        clid=record["clid"] or "",
        channel=record["channel"] or "",
        dstchannel=record["dstchannel"] or "",
        lastapp=record["lastapp"] or "",
        lastdata=record["lastdata"] or "",
        start=start,
        answer=answer,
        end=end,
        duration=duration,
        billsec=billsec,
        disposition=disposition,
        uniqueid=uniqueid,
        linkedid=record["linkedid"] or uniqueid,
        sequence=int(record["sequence"] or 0),
        accountcode=record["accountcode"] or "",
        userfield=record["userfield"] or "",
    )


async def read_rows(
    table: CdrTable,
    zone: tzinfo,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    timeout: float = 30.0,
) -> list[tuple[datetime, int, CdrRow]]:
    """The table's rows that started from `since` (all when None) until `until`, in
    (calldate, sequence) order, each with its calldate (UTC) and sequence as read."""
    import asyncpg  # type: ignore[import-untyped]

    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    where: list[str] = []
    values: list[Any] = []
    for op, bound in ((">=", since), ("<", until)):
        if bound is not None:
            values.append(bound)
            where.append(f'"calldate" {op} ${len(values)}')
    sql = f"SELECT {columns} FROM {table.qualified}"  # the name is checked and quoted
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += ' ORDER BY "calldate", "sequence"'
    conn = await asyncpg.connect(table.dsn, timeout=timeout)
    try:
        kind = await conn.fetchval(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = $1 AND column_name = 'calldate' "
            "AND ($2::text IS NULL OR table_schema = $2) LIMIT 1",
            table.table,
            table.schema,
        )
        if kind == "timestamp without time zone":
            # The column holds local times: bounds are compared in the PBX's zone.
            values = [v.astimezone(zone).replace(tzinfo=None) for v in values]
        records = await conn.fetch(sql, *values, timeout=timeout)
    finally:
        await conn.close()
    found = []
    for record in records:
        row = row_of(record, zone)
        found.append((row.start.astimezone(UTC), row.sequence, row))
    return found


async def read_new_rows(
    table: CdrTable, cursor: TableCursor, zone: tzinfo, *, lookback: timedelta = LOOKBACK
) -> tuple[list[tuple[datetime, int, CdrRow]], TableCursor]:
    """The rows not read before (see `TableCursor.is_new`), and the cursor after them."""
    since = cursor.calldate - lookback if cursor.calldate is not None else None
    rows = [r for r in await read_rows(table, zone, since=since) if cursor.is_new(*r)]
    if not rows:
        return rows, cursor
    calldate, sequence, _ = rows[-1]
    ended = max(row.end.astimezone(UTC) for _, _, row in rows)
    if cursor.ended is not None:
        ended = max(ended, cursor.ended)
    if cursor.calldate is not None and (calldate, sequence) < (cursor.calldate, cursor.sequence):
        calldate, sequence = cursor.calldate, cursor.sequence  # never backwards
    return rows, TableCursor(calldate, sequence, ended)


async def end_cursor(table: CdrTable, zone: tzinfo, *, timeout: float = 30.0) -> TableCursor:
    """The cursor after the table's last row (a first run starts there)."""
    import asyncpg

    name = table.qualified  # checked and quoted
    last = f'SELECT "calldate", "sequence" FROM {name} ORDER BY "calldate" DESC, "sequence" DESC'
    latest_end = f'SELECT max("calldate" + "duration" * interval \'1 second\') FROM {name}'
    conn = await asyncpg.connect(table.dsn, timeout=timeout)
    try:
        record = await conn.fetchrow(last + " LIMIT 1", timeout=timeout)
        ended = await conn.fetchval(latest_end, timeout=timeout)
    finally:
        await conn.close()
    if record is None:
        return TableCursor(datetime(1970, 1, 1, tzinfo=UTC), 0)
    calldate = _aware(record["calldate"], zone).astimezone(UTC)
    end = _aware(ended, zone).astimezone(UTC) if ended is not None else None
    return TableCursor(calldate, int(record["sequence"] or 0), end)
