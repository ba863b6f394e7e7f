"""Importing contacts from CSV (`trubka import contacts FILE.csv`).

- Encoding: UTF-8 (with or without BOM) or Windows-1251, detected from the bytes (or
  forced); separator `;`, `,` or tab, sniffed from the header.
- Columns map to fields by header (`Телефон`, `phone`, `ФИО`, `name` … see `SYNONYMS`)
  or by `--map "Телефон=phone,ФИО=name"`. Fields: name, phone (several columns or
  several numbers in a cell separated by `;`/`,`), phone_unverified (kept as entered and
  flagged invalid, what export writes for numbers that do not parse), email, company
  (found by name or created), owner (a user's login or name), tags, and `custom.KEY`;
  any other column becomes a custom field named after its header.
- A row is rejected (and listed with its line number and reason in
  `FILE.rejected.csv` next to the file) for a missing name, a bad phone or e-mail, an
  unknown owner, an over-long value, or — with `--duplicates report` — a number that
  already belongs to a contact. With `--duplicates merge` (the default) such a row adds
  its numbers, e-mails, tags and missing fields to that contact instead.
- Everything happens in one transaction: a broken file (bad encoding, broken quoting)
  stops the import with the line number and nothing is written; `--dry-run` rolls
  the transaction back at the end.

The pipeline, one module a stage: `source` (bytes → rows of cells, headers → fields),
`validation` (rows → contacts to store, or rejections), `store` (batches → the
database, with `search_index` feeding SQLite's FTS tables in bulk); `importer` runs
them in one transaction, `report` holds what comes out.
"""

from __future__ import annotations

from crm.csv_import.importer import BATCH, ContactImporter
from crm.csv_import.report import ImportFailed, ImportReport, Rejected
from crm.csv_import.source import FIELDS, SYNONYMS, detect_encoding, parse_map, sniff_delimiter

__all__ = [
    "BATCH",
    "FIELDS",
    "SYNONYMS",
    "ContactImporter",
    "ImportFailed",
    "ImportReport",
    "Rejected",
    "detect_encoding",
    "parse_map",
    "sniff_delimiter",
]
