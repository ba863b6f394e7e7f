"""Search words: what goes into `search_text` and how a typed query becomes an index query.

Both sides fold the same way (case-folded, `ё`→`е`, split on anything that is not a
letter or digit), so the database never needs a locale. A query is only ever a list of
such words, passed as a bound parameter: quotes, `%`, `*`, `'` and the like are plain
text, never syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_WORDS = 8


def fold(text: str) -> str:
    return text.casefold().replace("ё", "е")


def words(text: str | None) -> list[str]:
    if not text:
        return []
    return _WORD.findall(fold(text))


def search_text(parts: Iterable[str | None]) -> str:
    """The space-joined distinct words of `parts`, in order (what the index holds)."""
    # one fold and one regex pass over the joined parts (a space never joins two words)
    found = _WORD.findall(fold(" ".join(part for part in parts if part)))
    if found and len(max(found, key=len)) > 64:
        found = [word[:64] for word in found]
    return " ".join(dict.fromkeys(found))


def query_words(query: str) -> list[str]:
    return [w[:64] for w in words(query)][:MAX_QUERY_WORDS]


def fts5_match(query_words: list[str]) -> str:
    """An FTS5 MATCH expression: every word as a quoted prefix (`"иван"* AND "пет"*`)."""
    return " AND ".join('"' + w.replace('"', '""') + '"*' for w in query_words)


def tsquery(query_words: list[str]) -> str:
    """A PostgreSQL tsquery literal: every word as a quoted prefix (`'иван':* & 'пет':*`)."""
    return " & ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "':*" for w in query_words)
