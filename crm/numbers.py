"""Phone numbers as the CRM stores them (for contacts and companies alike).

Every entered number is kept: `raw` as typed, `number` its E.164 form when it parses for
the region (else the raw text, `valid = false` — flagged, never rewritten), `digits_rev`
its digits reversed so that "ends with 4567" is an index range scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm.errors import InvalidInput
from trubka.phones import MAX_NUMBER_LENGTH, digits_of, parse


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


def prepare(raw: str, region: str, label: str | None = None, *, field: str = "phones") -> NumberInput:
    text = raw.strip()
    if not text:
        raise InvalidInput("a phone number is empty", field=field)
    if len(text) > MAX_NUMBER_LENGTH:
        raise InvalidInput(f"a phone number is longer than {MAX_NUMBER_LENGTH} characters", field=field)
    parsed = parse(text, region)
    number = parsed.e164 or text
    return NumberInput(
        raw=text,
        number=number,
        valid=parsed.valid,
        digits_rev=digits_of(number)[::-1],
        label=(label.strip()[:32] or None) if label else None,
    )


def prepare_all(items: list[tuple[str, str | None]], region: str, *, field: str = "phones") -> list[NumberInput]:
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
