"""Routing reasons in Russian: every reason the routing tests make is read back."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

import tests.routing.test_decide as decide_tests
from routing.decision import Decision
from web.reasons import localize

# English words of routing.decide's grammar: none may be left in a Russian reason
ENGLISH = re.compile(
    r"\b(talked|queue|owner|responsible|wait|then|is|on a call|paused|logged|caller|"
    r"CRM did|failed|not in|recent|personal|after hours|ago|just now|days|minutes?|hours?)\b"
)


def every_reason(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run every test of tests/routing/test_decide.py and keep the reasons it made."""
    reasons: list[str] = []
    real = decide_tests.decide

    def recording(*args: Any, **kwargs: Any) -> Decision:
        decision = real(*args, **kwargs)
        reasons.append(decision.reason)
        return decision

    monkeypatch.setattr(decide_tests, "decide", recording)
    for name, test in inspect.getmembers(decide_tests, inspect.isfunction):
        if not name.startswith("test_"):
            continue
        marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
        if not marks:
            test()
            continue
        [mark] = marks
        argnames = mark.args[0]
        names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else argnames
        for values in mark.args[1]:
            values = values.values if hasattr(values, "values") else values
            values = values if len(names) > 1 else (values,)
            test(**dict(zip(names, values, strict=True)))
    return reasons


def test_every_reason_routing_makes_reads_in_russian(monkeypatch: pytest.MonkeyPatch) -> None:
    reasons = every_reason(monkeypatch)
    assert len(set(reasons)) >= 25
    for reason in set(reasons):
        russian = localize(reason, "ru")
        assert russian is not None and russian != reason, reason
        left = ENGLISH.findall(russian.replace("VIP", ""))
        assert not left, (reason, russian, left)


@pytest.mark.parametrize(
    ("reason", "russian"),
    [
        ("Ivanova: talked 3 days ago", "Ivanova: разговаривали 3 дня назад"),
        (
            "Ivanova: talked 1 minute ago, owner",
            "Ivanova: разговаривали 1 минуту назад, ответственный",
        ),
        ("owner Petrov: responsible manager", "ответственный Petrov"),
        (
            "Ivanova is on a call, owner Petrov is paused → queue",
            "Ivanova разговаривает, ответственный Petrov на паузе → очередь",
        ),
        (
            "Иванова, Анна is in wrap-up: wait up to 25 s, then queue",
            "Иванова, Анна на постобработке: ждём до 25 с, затем очередь",
        ),
        ("no caller ID → queue", "номер не определён → очередь"),
        ("+74951234567 is not in the CRM → queue", "+74951234567 нет в CRM → очередь"),
        (
            "Ivanova is not logged in → queue (VIP, priority 10)",
            "Ivanova не в системе → очередь (VIP, приоритет 10)",
        ),
        (
            "after hours (Sat 21:05 Europe/Moscow) → queue night",
            "нерабочее время (сб 21:05 Europe/Moscow) → очередь night",
        ),
    ],
)
def test_examples(reason: str, russian: str) -> None:
    assert localize(reason, "ru") == russian
    assert localize(reason, "en") == reason


def test_what_it_cannot_read_is_shown_as_written() -> None:
    assert localize("sent by the night script", "ru") == "sent by the night script"
    assert localize(None, "ru") is None and localize("", "ru") == ""
    hostile = "<script>alert(1)</script> is on a call → queue"
    assert localize(hostile, "ru") == "<script>alert(1)</script> разговаривает → очередь"
