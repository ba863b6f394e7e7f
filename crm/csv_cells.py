"""Spreadsheet-safe CSV cells, undone exactly by the importer.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return as a formula (`=HYPERLINK(…)`, `+cmd|' /C calc'!A0`); any agent can type such a
contact name. `escape_cell` puts an apostrophe before such text — spreadsheets show the
text and do not run it — and before text that already starts with apostrophes followed
by one of those characters, so that `unescape_cell` (one apostrophe less, only in that
case) gives back exactly what was stored. E.164 numbers (`+74951234567`, or a `; `-list
of them) are kept as they are. `formulas=False` is the opt-out for files read by
programs: formula-like text is written as it is, and the importer still reads every
cell back exactly.
"""

from __future__ import annotations

import re

_FORMULA = re.compile(r"^'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")
_PHONES = re.compile(r"^\+\d{3,15}(?:; \+\d{3,15})*$")


def escape_cell(text: str, *, formulas: bool = True) -> str:
    """The cell as written (see the module's docstring)."""
    if _ESCAPED.match(text):
        return "'" + text
    if formulas and _FORMULA.match(text) and not _PHONES.match(text):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """The stored value of a cell `escape_cell` wrote."""
    return text[1:] if _ESCAPED.match(text) else text
