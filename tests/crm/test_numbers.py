"""Phone numbers as stored: the fast RU path agrees with the full parse; suffix ranges."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.errors import InvalidInput
from crm.numbers import fast_parse, prepare, suffix_range
from kernel.phones import parse

FORMATS = (
    "8 ({a}) {b}-{c}-{d}",
    "+7 {a} {b}{c}{d}",
    "8{a}{b}{c}{d}",
    "7{a}{b}{c}{d}",
    "{a}{b}{c}{d}",
    "+7({a}){b}-{c}{d}",
)


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=9_999_999_999), st.sampled_from(FORMATS))
def test_fast_path_equals_full_parse(national: int, fmt: str) -> None:
    digits = f"{national:010d}"
    text = fmt.format(a=digits[:3], b=digits[3:6], c=digits[6:8], d=digits[8:])
    assert fast_parse(text, "RU") == parse(text, "RU")


def test_fast_path_on_every_russian_prefix() -> None:
    rng = random.Random(3)
    for prefix in range(1000):
        number = f"8{prefix:03d}{rng.randrange(10**7):07d}"
        assert fast_parse(number, "RU") == parse(number, "RU"), number


def test_prepare_keeps_invalid_numbers_flagged() -> None:
    good = prepare(" 8 (495) 123-45-67 ", "RU", "офис")
    assert (good.raw, good.number, good.valid, good.label) == (
        "8 (495) 123-45-67",
        "+74951234567",
        True,
        "офис",
    )
    assert good.digits_rev == "76543215947"
    bad = prepare("12-ab", "RU")
    assert (bad.number, bad.valid) == ("12-ab", False)
    with pytest.raises(InvalidInput) as excinfo:
        prepare("   ", "RU")
    assert excinfo.value.field == "phones"
    with pytest.raises(InvalidInput):
        prepare("1" * 65, "RU")


def test_suffix_range_bounds() -> None:
    assert suffix_range("4567") == ("7654", "7655")
    assert suffix_range("19") == ("91", "92")
    assert suffix_range("99") == ("99", None)
    assert suffix_range("90") == ("09", "1")


@pytest.mark.parametrize(
    "text",
    [
        "9\uff11\uff16\uff11\uff12\uff13\uff14\uff15\uff16\uff17",  # fullwidth digits
        "8 916\u00a0123 45 67",  # a no-break space
        "8\u0669161234567",  # an Arabic-Indic digit
        "8 916 123\n45 67",
        "+7 916 123 45 6+7",
        "(916) 123-45-67",
        "+8 916 123 45 67",
        "0916123456",
        "()",
    ],
)
def test_fast_path_leaves_unusual_input_to_the_full_parse(text: str) -> None:
    assert fast_parse(text, "RU") == parse(text, "RU")
    prepared = prepare(text, "RU")
    full = parse(text.strip(), "RU")
    assert (prepared.number, prepared.valid) == (full.e164 or text.strip(), full.valid)
