"""Asterisk's CDR as `cdr_csv` writes it (`Master.csv`): rows in, calls out (pure).

Columns, in cdr_csv's order: the 16 base columns (accountcode, src, dst, dcontext,
clid, channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec,
disposition, amaflags), then `uniqueid` with `loguniqueid = yes`, `userfield` with
`loguserfield = yes`, and `peeraccount`, `linkedid`, `sequence` with
`newcdrcolumns = yes` (the sample configuration turns all three on: 21 columns).
Times are the PBX's local time (`usegmtime = no`), so the reader is told its zone.

One call (one `linkedid`) leaves several rows: the caller's leg towards each party it
was bridged with or dialled (a ring-all queue writes one row per member rung).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

BASE_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
)
NEW_COLUMNS = ("peeraccount", "linkedid", "sequence")
LAYOUTS: dict[int, tuple[str, ...]] = {
    16: BASE_COLUMNS,
    17: (*BASE_COLUMNS, "uniqueid"),
    18: (*BASE_COLUMNS, "uniqueid", "userfield"),
    19: (*BASE_COLUMNS, *NEW_COLUMNS),
    21: (*BASE_COLUMNS, "uniqueid", "userfield", *NEW_COLUMNS),
}
ANSWERED = "ANSWERED"


class CdrFormatError(ValueError):
    """A row that is not a cdr_csv row (wrong column count, unreadable time)."""


@dataclass(frozen=True, slots=True)
class CdrRow:
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: datetime
    answer: datetime | None
    end: datetime
    duration: int
    billsec: int
    disposition: str
    uniqueid: str
    linkedid: str
    sequence: int
    accountcode: str = ""
    userfield: str = ""


def _time(text: str, zone: tzinfo) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
    except ValueError as exc:
        raise CdrFormatError(f"not a CDR time: {text[:40]!r}") from exc


def _int(text: str) -> int:
    try:
        return int(text or 0)
    except ValueError as exc:
        raise CdrFormatError(f"not a number: {text[:40]!r}") from exc


def parse_row(cells: Sequence[str], zone: tzinfo) -> CdrRow:
    layout = LAYOUTS.get(len(cells))
    if layout is None:
        raise CdrFormatError(f"a CDR row has {sorted(LAYOUTS)} columns, not {len(cells)}")
    row = dict(zip(layout, cells, strict=True))
    start = _time(row["start"], zone)
    end = _time(row["end"], zone)
    if start is None or end is None:
        raise CdrFormatError("a CDR row without its start or end time")
    uniqueid = row.get("uniqueid", "")
    return CdrRow(
        src=row["src"],
        dst=row["dst"],
        dcontext=row["dcontext"],
        clid=row["clid"],
        channel=row["channel"],
        dstchannel=row["dstchannel"],
        lastapp=row["lastapp"],
        lastdata=row["lastdata"],
        start=start,
        answer=_time(row["answer"], zone),
        end=end,
        duration=_int(row["duration"]),
        billsec=_int(row["billsec"]),
        disposition=row["disposition"],
        uniqueid=uniqueid,
        linkedid=row.get("linkedid") or uniqueid,
        sequence=_int(row.get("sequence", "")),
        accountcode=row["accountcode"],
        userfield=row.get("userfield", ""),
    )


def parse_lines(lines: Iterable[str], zone: tzinfo) -> tuple[list[CdrRow], list[str]]:
    """The rows of Master.csv text, and a reason for each line that is not a row."""
    rows: list[CdrRow] = []
    problems: list[str] = []
    for number, cells in enumerate(csv.reader(lines), start=1):
        if not cells:
            continue
        try:
            rows.append(parse_row(cells, zone))
        except CdrFormatError as exc:
            problems.append(f"line {number}: {exc}")
    return rows, problems


@dataclass(frozen=True, slots=True)
class CdrCall:
    """The rows of one call (one linkedid), summed up."""

    linkedid: str
    rows: tuple[CdrRow, ...]

    @property
    def first(self) -> CdrRow:
        return self.rows[0]

    @property
    def started_at(self) -> datetime:
        return min(row.start for row in self.rows)

    @property
    def ended_at(self) -> datetime:
        return max(row.end for row in self.rows)

    @property
    def answered(self) -> CdrRow | None:
        """The first row in which the caller's leg reached a party that answered."""
        for row in self.rows:
            if row.disposition == ANSWERED and row.dstchannel:
                return row
        return None


def calls(rows: Iterable[CdrRow]) -> list[CdrCall]:
    """Rows grouped by linkedid, each group in Asterisk's sequence order."""
    groups: dict[str, list[CdrRow]] = {}
    for row in rows:
        groups.setdefault(row.linkedid, []).append(row)
    return [
        CdrCall(linkedid, tuple(sorted(group, key=lambda r: (r.sequence, r.start))))
        for linkedid, group in groups.items()
    ]
