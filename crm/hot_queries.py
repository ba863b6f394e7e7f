"""The statements of the hot paths (routing facts, phone lookup) and the typed rows they
read: everything that goes through :class:`crm.fastpath.FastReader`'s gateway.

Each is a :class:`~crm.fastpath.ReadQuery`: the SQL per dialect and a row mapper, so the
callers see named, typed fields and never index into a tuple.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from crm.fastpath import ReadQuery, as_utc

CANDIDATE_CALLS = 5  # answered calls looked at to find one whose agent is still a user


class LastCall(NamedTuple):
    """One of a customer's last answered calls: who took it and when they talked."""

    agent_interface: str | None
    talked_at: datetime | None  # answered_at, else started_at (UTC)


class NumberFacts(NamedTuple):
    """What the CRM has for a phone number: its contact and/or company, both owners, the
    tags of both, and (PostgreSQL, one round trip) the last answered calls."""

    contact_id: int | None
    contact_name: str | None
    contact_owner: int | None
    company_id: int | None
    company_name: str | None
    company_owner: int | None
    tags: frozenset[str]
    last_calls: tuple[LastCall, ...] | None  # None: not read with it (SQLite)


def _tags(value: str | None) -> list[str]:
    if not value or value == "[]":  # most customers have no tags
        return []
    tags = json.loads(value)
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _last_call(raw: tuple[Any, ...] | list[Any]) -> LastCall:
    interface, answered_at, started_at = raw
    return LastCall(interface, as_utc(answered_at) or as_utc(started_at))


def _number_facts(raw: tuple[Any, ...]) -> NumberFacts:
    tags = frozenset(_tags(raw[6]) + _tags(raw[7]))
    last: tuple[LastCall, ...] | None = None
    if len(raw) > 8:
        last = tuple(_last_call(item) for item in json.loads(raw[8])) if raw[8] else ()
    return NumberFacts(raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], tags, last)


# The number's contact (contact phones first, the oldest contact when several share it)
# or else company, both owners and both sets of tags: one statement. The tags come as a
# JSON array (SQLite: json_group_array, '[]' when none; PostgreSQL: json_agg, NULL).
_FIND = """
SELECT p.contact_id, c.name, c.owner_id, co.id, co.name, co.owner_id,
  (SELECT {agg} FROM contact_tags WHERE contact_id = p.contact_id),
  (SELECT {agg} FROM company_tags WHERE company_id = co.id)
FROM phones p
LEFT JOIN contacts c ON c.id = p.contact_id
LEFT JOIN companies co ON co.id = COALESCE(c.company_id, p.company_id)
WHERE p.number = :number
ORDER BY p.contact_id IS NULL, p.contact_id, p.company_id
LIMIT 1
"""
# PostgreSQL: one round trip for everything — the last answered calls come along as a
# JSON array (newest first) from the same covering indexes. (On SQLite, where a
# statement costs no round trip, two plain statements are as fast and simpler.)
_LAST_JSON = """
(SELECT json_agg(json_build_array(agent_interface, answered_at, started_at)
                 ORDER BY started_at DESC)::text
 FROM (SELECT agent_interface, answered_at, started_at FROM calls
       WHERE {column} = {value} AND disposition = 'answered'
       ORDER BY started_at DESC LIMIT {limit}) AS last)
"""
_FIND_ALL_PG = _FIND.format(agg="json_agg(tag)::text").replace(
    "\nFROM phones p",
    ",\n  CASE WHEN co.id IS NOT NULL THEN "
    + _LAST_JSON.format(column="company_id", value="co.id", limit=CANDIDATE_CALLS)
    + " ELSE "
    + _LAST_JSON.format(column="contact_id", value="p.contact_id", limit=CANDIDATE_CALLS)
    + " END\nFROM phones p",
)
NUMBER_FACTS = ReadQuery(
    {"sqlite": _FIND.format(agg="json_group_array(tag)"), "postgresql": _FIND_ALL_PG},
    _number_facts,
)

# The index on (company_id | contact_id, started_at, agent_interface, answered_at,
# disposition) WHERE answered covers these (route_0002): no table rows are read.
LAST_CALLS_OF_COMPANY = ReadQuery(
    f"""
SELECT agent_interface, answered_at, started_at FROM calls
WHERE company_id = :id AND disposition = 'answered'
ORDER BY started_at DESC LIMIT {CANDIDATE_CALLS}
""",
    _last_call,
)
LAST_CALLS_OF_CONTACT = ReadQuery(
    f"""
SELECT agent_interface, answered_at, started_at FROM calls
WHERE contact_id = :id AND disposition = 'answered'
ORDER BY started_at DESC LIMIT {CANDIDATE_CALLS}
""",
    _last_call,
)


def _contact_id(raw: tuple[Any, ...]) -> int:
    return int(raw[0])


class NumberMatch(NamedTuple):
    """A contact the phone lookup found: by the number itself (`part` 0) or by its end (1)."""

    part: int
    contact_id: int


def _number_match(raw: tuple[Any, ...]) -> NumberMatch:
    return NumberMatch(int(raw[0]), int(raw[1]))


# Phone lookup: contacts with the number as stored or as typed, then those whose number
# ends with the digits (`digits_rev`, the reversed digits, makes that a range seek): one
# statement, one round trip (each row says which part found it; the caller keeps the
# parts in order).
_WITH_NUMBER = (
    "SELECT contact_id FROM phones WHERE number IN (:a, :b) AND contact_id IS NOT NULL LIMIT :n"
)
CONTACTS_WITH_NUMBER = ReadQuery(_WITH_NUMBER, _contact_id)
_ENDING = (
    "SELECT contact_id FROM phones WHERE digits_rev >= :low AND contact_id IS NOT NULL{high} "
    "LIMIT :n"
)
_BY_NUMBER_OR_END = (
    f"SELECT 0, contact_id FROM ({_WITH_NUMBER}) AS exact "
    f"UNION ALL SELECT 1, contact_id FROM ({_ENDING}) AS ending"
)
CONTACTS_WITH_NUMBER_OR_END = ReadQuery(
    _BY_NUMBER_OR_END.format(high=" AND digits_rev < :high"), _number_match
)
CONTACTS_WITH_NUMBER_OR_END_UNBOUNDED = ReadQuery(_BY_NUMBER_OR_END.format(high=""), _number_match)
