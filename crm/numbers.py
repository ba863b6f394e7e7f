"""Phone numbers as the CRM stores them (for contacts and companies alike).

Every entered number is kept: `raw` as typed, `number` its E.164 form when it parses for
the region (else the raw text, `valid = false` — flagged, never rewritten), `digits_rev`
its digits reversed so that "ends with 4567" is an index range scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers

from crm.errors import InvalidInput
from kernel.phones import MAX_NUMBER_LENGTH, PhoneNumber, digits_of, parse

_PUNCTUATION = str.maketrans("", "", " \t()-.+")
# The refusal of a number typed into a contact or company (the web shows it in the user's
# language, naming the field and the number: `web.phone_refusal`).
PHONE_REFUSED = "not a phone number: write it with its area code, e.g. +7 495 123-45-67"


def fast_parse(raw: str, region: str) -> PhoneNumber:
    """`kernel.phones.parse`, with a quick exact path for the common Russian formats.

    `8 (916) 123-45-67`, `+7 916 1234567`, `79161234567` and `9161234567` are checked
    against phonenumbers' own RU patterns (a few µs instead of ~100 µs for the full
    parse); anything else, or a number that path finds invalid, takes the full parse.
    """
    text = raw.strip()
    e164 = _fast_e164(text) if region == "RU" else None
    if e164 is not None:
        return PhoneNumber(raw=text, e164=e164)
    return parse(text, region)


def _fast_e164(text: str) -> str | None:
    """E.164 of a stripped RU number written with ASCII digits, blanks, `()-.` and a
    leading `+`, when phonenumbers' RU patterns find it valid; None means "ask the full
    parse" (which then decides alone, so None never makes a number invalid)."""
    if not text.isascii() or "+" in text[1:]:
        return None
    digits = text.translate(_PUNCTUATION)
    if not digits.isdigit():
        return None
    size = len(digits)
    if size == 11 and (digits[0] == "7" or (digits[0] == "8" and text[0] != "+")):
        national = digits[1:]
    elif size == 10 and text[0] != "+" and digits[0] != "0":
        national = digits
    else:
        return None
    if national.startswith(("7", "33")) or not _ru_valid(national):
        return None
    return "+7" + national


def _ru_patterns() -> re.Pattern[str]:
    """One regex for every valid Russian national number, built from phonenumbers' own
    metadata (so it follows the installed version): the general pattern and the union
    of the number-type patterns, exactly what `is_valid_number` checks for region RU."""
    md = phonenumbers.PhoneMetadata.metadata_for_region("RU")
    assert md is not None
    kinds = (
        "fixed_line",
        "mobile",
        "toll_free",
        "premium_rate",
        "shared_cost",
        "personal_number",
        "voip",
        "pager",
        "uan",
        "voicemail",
    )
    types = [
        d.national_number_pattern
        for k in kinds
        if (d := getattr(md, k)) is not None and d.national_number_pattern
    ]
    assert md.general_desc is not None
    general = md.general_desc.national_number_pattern
    return re.compile(f"(?=(?:{general})$)(?:{'|'.join(f'(?:{t})' for t in types)})$")


_RU_VALID = _ru_patterns()


def _ru_valid(national: str) -> bool:
    """Validity of a 10-digit national number of region RU (+7 numbers of Kazakhstan —
    national numbers starting with 7 or 33 — are left to the full parse)."""
    return _RU_VALID.match(national) is not None


@dataclass(frozen=True, slots=True)
class NumberInput:
    raw: str
    number: str
    valid: bool
    digits_rev: str
    label: str | None = None

    def row(self, position: int) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "number": self.number,
            "valid": self.valid,
            "digits_rev": self.digits_rev,
            "label": self.label,
            "position": position,
        }


def prepare(
    raw: str, region: str, label: str | None = None, *, field: str = "phones"
) -> NumberInput:
    text = raw.strip()
    if not text:
        raise InvalidInput("a phone number is empty", field=field)
    if len(text) > MAX_NUMBER_LENGTH:
        raise InvalidInput(
            f"a phone number is longer than {MAX_NUMBER_LENGTH} characters", field=field
        )
    label = (label.strip()[:32] or None) if label else None
    e164 = _fast_e164(text) if region == "RU" else None
    if e164 is not None:
        return NumberInput(text, e164, True, e164[:0:-1], label)
    parsed = parse(text, region)
    number = parsed.e164 or text
    return NumberInput(
        raw=text,
        number=number,
        valid=parsed.valid,
        digits_rev=number[:0:-1] if parsed.e164 else digits_of(number)[::-1],
        label=label,
    )


def prepare_all(
    items: list[tuple[str, str | None]], region: str, *, field: str = "phones"
) -> list[NumberInput]:
    """Prepared numbers in order, the same number entered twice kept once."""
    result: list[NumberInput] = []
    seen: set[str] = set()
    for raw, label in items:
        prepared = prepare(raw, region, label, field=field)
        if prepared.number in seen:
            continue
        seen.add(prepared.number)
        result.append(prepared)
    return result


def refuse_invalid(
    prepared: list[NumberInput],
    kept: set[str] | frozenset[str] = frozenset(),
    *,
    field: str = "phones",
) -> None:
    """Refuse a typed number that is not a phone number ("abc", "123", 15 digits):
    `InvalidInput` naming the field, with the number as `value`. Numbers in `kept` (what
    the record already holds: an import's "kept as entered, flagged" numbers) stay."""
    for index, item in enumerate(prepared):
        if not item.valid and item.number not in kept:
            raise InvalidInput(PHONE_REFUSED, field=field, value=item.raw, index=index)


def suffix_range(digits: str) -> tuple[str, str | None]:
    """Bounds on `digits_rev` for numbers ending with `digits`: [low, high)."""
    low = digits[::-1]
    stripped = low.rstrip("9")
    if not stripped:
        return low, None
    high = stripped[:-1] + str(int(stripped[-1]) + 1)
    return low, high


def to_json(raw: str, number: str, valid: bool, label: str | None) -> dict[str, Any]:
    return {"raw": raw, "number": number, "valid": valid, "label": label}
