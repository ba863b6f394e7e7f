"""Rows of cells → contacts ready to store, or the reason a row is rejected.

Pure: nothing here reads the database (the owners a row may name are handed in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from crm import numbers
from crm.contacts import clean_tags
from crm.csv_import.report import Rejected
from crm.errors import CrmError

_SPLIT = re.compile(r"[;,]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_EMAIL_SPLIT = re.compile(r"[;,\s]+")


@dataclass
class ContactRow:
    """One valid row: what it adds (a new contact, or numbers and fields of an existing one)."""

    line: int
    cells: list[str]
    name: str
    numbers: list[numbers.NumberInput]
    emails: list[str]
    company: str | None
    owner_id: int | None
    tags: list[str]
    custom: dict[str, Any]

    def absorb(self, other: ContactRow) -> None:
        """Fold a later row for the same person (a shared number) into this one."""
        known = {n.number for n in self.numbers}
        self.numbers.extend(n for n in other.numbers if n.number not in known)
        self.emails.extend(e for e in other.emails if e not in self.emails)
        self.tags = clean_tags([*self.tags, *other.tags])
        for key, value in other.custom.items():
            self.custom.setdefault(key, value)
        self.company = self.company or other.company
        self.owner_id = self.owner_id if self.owner_id is not None else other.owner_id


@dataclass(frozen=True)
class _Plan:
    """Which cells feed which field, in column order (several columns may feed one)."""

    name: tuple[int, ...]
    phones: tuple[tuple[int, bool], ...]  # (cell, must be a valid number)
    emails: tuple[int, ...]
    company: tuple[int, ...]
    owner: tuple[int, ...]
    tags: tuple[int, ...]
    custom: tuple[tuple[int, str], ...]  # (cell, custom field name)

    @classmethod
    def of(cls, targets: list[str]) -> _Plan:
        def cells(field: str) -> tuple[int, ...]:
            return tuple(i for i, t in enumerate(targets) if t == field)

        return cls(
            name=cells("name"),
            phones=tuple(
                (i, t == "phone")
                for i, t in enumerate(targets)
                if t in ("phone", "phone_unverified")
            ),
            emails=cells("email"),
            company=cells("company"),
            owner=cells("owner"),
            tags=cells("tags"),
            custom=tuple(
                (i, t[len("custom.") :][:64])
                for i, t in enumerate(targets)
                if t.startswith("custom.")
            ),
        )


class RowValidator:
    """Checks rows against the columns' fields (`source.column_targets`).

    `users` maps a folded login or name to the user's id (for the owner column).
    A row is rejected for extra cells, a missing or over-long name or company, a bad
    phone or e-mail, more than 20 numbers or 50 tags, or an unknown owner.
    """

    def __init__(self, targets: list[str], users: dict[str, int], region: str) -> None:
        self.columns = len(targets)
        self.plan = _Plan.of(targets)
        self.users = users
        self.region = region

    def check(self, line: int, cells: list[str]) -> ContactRow | Rejected:
        def reject(reason: str) -> Rejected:
            return Rejected(line, reason, cells)

        if len(cells) > self.columns:
            extra = [c for c in cells[self.columns :] if c.strip()]
            if extra:
                return reject(f"{len(cells)} cells but the header has {self.columns} columns")
        plan = self.plan
        size = len(cells)
        name = ""
        for i in plan.name:
            if i < size and (value := cells[i]) and not value.isspace():
                value = value.strip()
                name = (
                    " ".join(value.split())
                    if "  " in value or "\t" in value or "\n" in value
                    else value
                )
        raw_numbers: list[tuple[str, bool]] = []
        for i, must_be_valid in plan.phones:
            if i < size and (value := cells[i]) and not value.isspace():
                value = value.strip()
                if ";" in value or "," in value:
                    raw_numbers.extend(
                        (p.strip(), must_be_valid) for p in _SPLIT.split(value) if p.strip()
                    )
                else:
                    raw_numbers.append((value, must_be_valid))
        emails: list[str] = []
        for i in plan.emails:
            if i < size and (value := cells[i]) and not value.isspace():
                value = value.strip()
                if ";" in value or "," in value or " " in value:
                    emails.extend(e for e in _EMAIL_SPLIT.split(value) if e)
                else:
                    emails.append(value)
        company = None
        for i in plan.company:
            if i < size and (value := cells[i]) and not value.isspace():
                company = " ".join(value.split())
        owner = None
        for i in plan.owner:
            if i < size and (value := cells[i]) and not value.isspace():
                owner = value.strip()
        tags: list[str] = []
        for i in plan.tags:
            if i < size and (value := cells[i]) and not value.isspace():
                tags.extend(t for t in _SPLIT.split(value.strip()) if t.strip())
        custom: dict[str, Any] = {}
        for i, key in plan.custom:
            if i < size and (value := cells[i]) and not value.isspace():
                custom[key] = value.strip()[:2000]
        if not name:
            return reject("missing name")
        if len(name) > 255:
            return reject("the name is longer than 255 characters")
        if company is not None and len(company) > 255:
            return reject("the company name is longer than 255 characters")
        prepared: list[numbers.NumberInput] = []
        seen: set[str] = set()
        for raw, must_be_valid in raw_numbers:
            try:
                item = numbers.prepare(raw, self.region)
            except CrmError as exc:
                return reject(f"bad phone {raw[:70]!r}: {exc.message}")
            if must_be_valid and not item.valid:
                return reject(f"bad phone {raw!r}")
            if item.number not in seen:
                seen.add(item.number)
                prepared.append(item)
        if len(prepared) > 20:
            return reject("more than 20 phone numbers")
        for email in emails:
            if len(email) > 254 or not _EMAIL.match(email):
                return reject(f"bad e-mail {email[:70]!r}")
        owner_id = None
        if owner is not None:
            owner_id = self.users.get(" ".join(owner.casefold().split()))
            if owner_id is None:
                return reject(f"unknown owner {owner[:70]!r} (use a user's login or name)")
        cleaned_tags = clean_tags(tags)
        if len(cleaned_tags) > 50:
            return reject("more than 50 tags")
        return ContactRow(
            line,
            cells,
            name,
            prepared,
            list(dict.fromkeys(emails)),
            company,
            owner_id,
            cleaned_tags,
            custom,
        )
