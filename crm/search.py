"""Search: by any phone format or a suffix of its digits, by name prefix, company, tag.

- A query made of phone characters with at least 3 digits is a number: contacts and
  companies whose number is its E.164 form, ends with its digits (`4567` finds
  `+74951234567`, via the reversed-digits index), or holds its digits anywhere, as
  people type a number's start or middle: `8 916 555`, `+7 916 555`, `916 555`,
  `8 (916) 555-0` and `8916555` all find `+79165550123` (a leading 8 is also read as
  the country code 7). The substring match uses a trigram index over the reversed
  digits (a run's reverse is a substring of `digits_rev`): SQLite's FTS5 `trigram`
  table `phones_digits_fts`, PostgreSQL's pg_trgm GIN index (migration 0007), which
  PostgreSQL asks only when the newest phones hold too few matches (`_by_digits_pg`).
  Exact matches come first, then endings, then the others, newest first.
- Anything else is words: every word must prefix-match a word of the name, the company,
  a tag or an e-mail (`иван пет` finds "Петров Иван"), case-insensitively, Cyrillic
  included (`ё` = `е`). SQLite uses FTS5, PostgreSQL a GIN index over the same words.
  The words are bound parameters: quotes, `%`, `*` and SQL are plain text.
Results are newest first (ids descending), at most `limit` of each kind.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Actor
from crm.companies import company_views
from crm.contacts import contact_views
from crm.database import Database
from crm.errors import InvalidInput
from crm.fastpath import FastReader
from crm.hot_queries import (
    CONTACTS_WITH_NUMBER,
    CONTACTS_WITH_NUMBER_OR_END,
    CONTACTS_WITH_NUMBER_OR_END_UNBOUNDED,
)
from crm.models import Company, Contact, Phone
from crm.numbers import fast_parse, suffix_range
from crm.words import fts5_match, query_words, tsquery
from kernel.phones import digits_of, parse

_PHONE_CHARS = re.compile(r"^[\d\s+()\-.]+$")
MAX_QUERY_LENGTH = 200
MIN_SUFFIX_DIGITS = 3


def looks_like_number(query: str) -> bool:
    return bool(_PHONE_CHARS.match(query)) and len(digits_of(query)) >= MIN_SUFFIX_DIGITS


def digit_runs(query: str) -> list[str]:
    """The runs of digits a typed number may stand for: its digits, and with a leading
    8 (the domestic trunk prefix) also the same run after the country code 7."""
    digits = digits_of(query)
    runs = [digits]
    if digits.startswith("8") and not query.strip().startswith("+") and len(digits) > 1:
        runs.append("7" + digits[1:])
    return runs


class SearchService:
    # PostgreSQL's name search walks this many of the newest rows before it asks the index
    recent_window = 10_000
    # and its number search this many of the newest phones (`_by_digits_pg`)
    recent_phones = 10_000

    def __init__(
        self, db: Database, *, region: str = "RU", reader: FastReader | None = None
    ) -> None:
        self.db = db
        self.region = region
        self.reader = reader or FastReader(db)

    async def search(
        self, query: str, actor: Actor | None = None, *, limit: int = 20
    ) -> dict[str, Any]:
        query = query.strip()
        if not query:
            raise InvalidInput("type something to search for", field="q")
        if len(query) > MAX_QUERY_LENGTH:
            raise InvalidInput(
                f"the search text is longer than {MAX_QUERY_LENGTH} characters", field="q"
            )
        async with self.db.session() as session:
            if looks_like_number(query):
                contact_ids, company_ids = await self._by_number(session, query, limit)
            else:
                words = query_words(query)
                if not words:
                    return {"query": query, "contacts": [], "companies": []}
                contact_ids = await self._by_words(session, "contacts", words, limit)
                company_ids = await self._by_words(session, "companies", words, limit)
            contacts = await self._load(session, Contact, contact_ids)
            companies = await self._load(session, Company, company_ids)
            return {
                "query": query,
                "contacts": await contact_views(session, contacts, actor),
                "companies": await company_views(session, companies, actor),
            }

    async def contact_ids_by_number(self, number: str, limit: int = 20) -> list[int]:
        """Contacts with this number (any format) or whose number ends with its digits.

        The phone-lookup hot path: one indexed statement through `FastReader`."""
        digits = digits_of(number)
        if not digits:
            return []
        params: dict[str, Any] = {
            "a": fast_parse(number, self.region).value,
            "b": number.strip(),
            "n": limit,
        }
        if len(digits) < MIN_SUFFIX_DIGITS:
            ids = await self.reader.rows(CONTACTS_WITH_NUMBER, params)
            return list(dict.fromkeys(ids))[:limit]
        params["low"], params["high"] = suffix_range(digits)
        query = (
            CONTACTS_WITH_NUMBER_OR_END_UNBOUNDED
            if params["high"] is None
            else CONTACTS_WITH_NUMBER_OR_END
        )
        matches = sorted(await self.reader.rows(query, params), key=lambda match: match.part)
        return list(dict.fromkeys(match.contact_id for match in matches))[:limit]

    async def _load(self, session: AsyncSession, model: Any, ids: list[int]) -> list[Any]:
        if not ids:
            return []
        rows = {
            row.id: row
            for row in (await session.scalars(select(model).where(model.id.in_(ids)))).all()
        }
        return [rows[i] for i in ids if i in rows]

    async def _by_number(
        self, session: AsyncSession, query: str, limit: int
    ) -> tuple[list[int], list[int]]:
        parsed = parse(query, self.region)
        digits = digits_of(query)
        low, high = suffix_range(digits)
        conditions = [Phone.digits_rev >= low]
        if high is not None:
            conditions.append(Phone.digits_rev < high)
        suffix = select(Phone.contact_id, Phone.company_id).where(*conditions)
        exact_numbers = {query, parsed.value}
        exact = select(Phone.contact_id, Phone.company_id).where(Phone.number.in_(exact_numbers))
        rows = [(c, co) for c, co in await session.execute(exact.limit(limit * 2))]
        rows += [(c, co) for c, co in await session.execute(suffix.limit(limit * 4))]
        rows += await self._by_digits(session, digit_runs(query), limit * 4)
        contacts = list(dict.fromkeys(c for c, _ in rows if c is not None))[:limit]
        companies = list(dict.fromkeys(co for _, co in rows if co is not None))[:limit]
        return contacts, companies

    async def _by_digits(
        self, session: AsyncSession, runs: list[str], limit: int
    ) -> list[tuple[int | None, int | None]]:
        """Phones holding any of `runs` anywhere in their digits, newest first."""
        reversed_runs = [run[::-1] for run in runs if len(run) >= MIN_SUFFIX_DIGITS]
        if not reversed_runs:
            return []
        if self.db.dialect != "sqlite":
            return await self._by_digits_pg(session, reversed_runs, limit)
        # digits only, each a quoted FTS5 phrase: a substring for the trigram tokenizer
        match = " OR ".join(f'"{run}"' for run in reversed_runs)
        statement = text(
            "SELECT p.contact_id, p.company_id FROM phones_digits_fts "
            "JOIN phones p ON p.id = phones_digits_fts.rowid "
            "WHERE phones_digits_fts MATCH :q ORDER BY phones_digits_fts.rowid DESC LIMIT :n"
        )
        result = await session.execute(statement, {"q": match, "n": limit})
        return [(row[0], row[1]) for row in result]

    async def _by_digits_pg(
        self, session: AsyncSession, reversed_runs: list[str], limit: int
    ) -> list[tuple[int | None, int | None]]:
        # The pg_trgm index finds the phones holding a run, but not newest first. Left
        # to itself the planner guesses how common a run is from a sample of numbers
        # and, when the guess is high, walks the primary key backwards: for a run that
        # is in fact rare that reads the whole table (70-350 ms at 1M contacts), and a
        # prepared statement's generic plan always does it. So, as the name search does,
        # two steps with their plans fixed: first the newest phones only (`strpos` is not
        # indexed, so that is a walk of the primary key bounded by the window), then,
        # when they hold too few, the index and a sort of what it found (`id + 0` keeps
        # the planner off the walk). The first step's matches are the newest of all
        # when there are `limit` of them, so both steps give what one ordered scan would.
        runs = {f"r{index}": run for index, run in enumerate(reversed_runs)}
        contains = " OR ".join(f"strpos(digits_rev, :{name}) > 0" for name in runs)
        recent = text(
            "SELECT contact_id, company_id FROM phones "
            "WHERE id >= (SELECT max(id) FROM phones) - :window "
            f"AND ({contains}) ORDER BY id DESC LIMIT :n"
        )
        params: dict[str, Any] = {**runs, "n": limit, "window": self.recent_phones}
        rows = [(row[0], row[1]) for row in await session.execute(recent, params)]
        if len(rows) >= limit:
            return rows
        likes = " OR ".join(f"digits_rev LIKE :{name}" for name in runs)
        everywhere = text(
            f"SELECT contact_id, company_id FROM phones WHERE {likes} ORDER BY id + 0 DESC LIMIT :n"
        )
        params = {name: f"%{run}%" for name, run in runs.items()}
        params["n"] = limit
        return [(row[0], row[1]) for row in await session.execute(everywhere, params)]

    async def _by_words(
        self, session: AsyncSession, table: str, words: list[str], limit: int
    ) -> list[int]:
        if self.db.dialect == "sqlite":
            statement = text(
                f"SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH :q ORDER BY rowid DESC "
                "LIMIT :n"
            )
            result = await session.execute(statement, {"q": fts5_match(words), "n": limit})
            return [int(row[0]) for row in result]
        # PostgreSQL: the GIN index finds the matches but cannot give them newest first.
        # Walking the primary key backwards finds the newest matches of a common word at
        # once, but walks the whole table for a rare word (1.2 s at 1M contacts). So: the
        # walk over the newest rows only, then, when that found too few, the index and a
        # sort of what it found (few rows, as the word is rare among the newest ones).
        match = "array_to_tsvector(string_to_array(search_text, ' ')) @@ CAST(:q AS tsquery)"
        params = {"q": tsquery(words), "n": limit, "window": self.recent_window}
        recent = text(
            f"SELECT id FROM {table} WHERE id >= (SELECT max(id) FROM {table}) - :window "
            f"AND {match} ORDER BY id DESC LIMIT :n"
        )
        ids = [int(row[0]) for row in await session.execute(recent, params)]
        if len(ids) < limit:
            everywhere = text(f"SELECT id FROM {table} WHERE {match} ORDER BY id + 0 DESC LIMIT :n")
            ids = [int(row[0]) for row in await session.execute(everywhere, params)]
        return ids
