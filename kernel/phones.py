"""Phone numbers: normalization to E.164 with `phonenumbers`, shared by every package.

`8 (495) 123-45-67`, `+7 495 1234567` and `84951234567` are one number for
region RU. A number that does not parse is kept as received (stripped of
surrounding blanks) and flagged, never silently rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

ANONYMOUS = frozenset(
    {"", "anonymous", "unknown", "<unknown>", "restricted", "private", "unavailable"}
)
_DIGITS = re.compile(r"\d")
MAX_NUMBER_LENGTH = 64


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    raw: str
    e164: str | None  # None when the number does not parse as a valid number

    @property
    def value(self) -> str:
        """E.164 when valid, otherwise the number as received."""
        return self.e164 or self.raw

    @property
    def valid(self) -> bool:
        return self.e164 is not None


def is_anonymous(number: str | None) -> bool:
    return number is None or number.strip().lower() in ANONYMOUS


def digits_of(number: str) -> str:
    return "".join(_DIGITS.findall(number))


@lru_cache(maxsize=65536)
def parse(number: str, region: str = "RU") -> PhoneNumber:
    raw = number.strip()[:MAX_NUMBER_LENGTH]
    if is_anonymous(raw):
        return PhoneNumber(raw=raw, e164=None)
    candidate = raw
    digits = digits_of(raw)
    if region == "RU" and not raw.startswith("+") and len(digits) == 11 and digits[0] in "78":
        # Russian trunks send both 8XXXXXXXXXX (domestic) and 7XXXXXXXXXX (no plus).
        candidate = "+7" + digits[1:]
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return PhoneNumber(raw=raw, e164=None)
    if not phonenumbers.is_valid_number(parsed):
        # Some carriers send the country code without "+": try that reading too.
        if not raw.startswith("+") and len(digits) > 10:
            try:
                alt = phonenumbers.parse("+" + digits, None)
            except phonenumbers.NumberParseException:
                return PhoneNumber(raw=raw, e164=None)
            if phonenumbers.is_valid_number(alt):
                return PhoneNumber(
                    raw=raw,
                    e164=phonenumbers.format_number(alt, phonenumbers.PhoneNumberFormat.E164),
                )
        return PhoneNumber(raw=raw, e164=None)
    return PhoneNumber(
        raw=raw, e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    )


def normalize(number: str | None, region: str = "RU") -> str | None:
    """E.164 for a number that parses for `region`, the stripped input otherwise, None for none."""
    if number is None:
        return None
    if is_anonymous(number):
        stripped = number.strip()
        return stripped or None
    return parse(number, region).value


def format_national(e164: str, region: str = "RU") -> str:
    """A number as people of `region` write it (`8 (495) 123-45-67`), or unchanged."""
    try:
        parsed = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    if not phonenumbers.is_valid_number(parsed):
        return e164
    if phonenumbers.region_code_for_number(parsed) == region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
