"""Routing reasons in words: every key in every language, English exactly as routing
always wrote it, Russian with no English left in it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kernel.agents import AgentState
from routing.decision import PARTS, Reason, ReasonKey
from routing.reasons import LANGUAGES, WORDINGS, localize, localized, render, restore

K = ReasonKey


def part(key: ReasonKey, **values: Any) -> dict[str, Any]:
    return Reason(key, values).to_json()


# One reason of every key, with values of every kind the key carries. Written with
# Cyrillic or digit-only values, so any Latin letter in a Russian rendering is English
# the template left in (and the reverse for English, below).
def sample(key: ReasonKey, name: str = "Иванова", where: str = "ночь") -> Reason:
    busy = part(K.MANAGER_BUSY, agent=name, role="owner", state="paused")
    values: dict[str, Any] = {
        K.PREVIOUS_MANAGER_FREE: {"agent": name, "ago": 3 * 86400},
        K.PREVIOUS_MANAGER_OWNER_FREE: {"agent": name, "ago": 120},
        K.OWNER_FREE: {"agent": name},
        K.MANAGER_BUSY_WAIT: {"agent": name, "role": "owner", "state": "ringing", "seconds": 25},
        K.QUEUE: {"parts": [busy]},
        K.VIP: {"parts": [busy], "priority": 10},
        K.AFTER_HOURS: {"weekday": 5, "time": "21:05", "timezone": where, "to": where},
        K.AFTER_HOURS_QUEUE: {"weekday": 6, "time": "07:00", "timezone": where, "queue": where},
        K.NO_CALLER_ID: {},
        K.CALLER_ID_NOT_A_NUMBER: {"caller_id": where},
        K.NOT_IN_CRM: {"number": "+74951234567"},
        K.CRM_TIMEOUT: {},
        K.CRM_ERROR: {},
        K.MANAGER_BUSY: {"agent": name, "role": "last-agent", "state": "on_call"},
        K.NO_DIALABLE_PHONE: {"agent": name, "role": "owner"},
        K.LAST_TALK_TOO_OLD: {"agent": name, "ago": 120 * 86400, "days": 90},
        K.NO_RECENT_MANAGER: {"who": name},
        K.PERSONAL_ROUTING_OFF: {"who": name},
    }[key]
    return Reason(key, values)


def latin(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", text)


def test_every_language_words_every_key_and_state() -> None:
    assert set(LANGUAGES) == {"en", "ru"}
    for lang, words in WORDINGS.items():
        assert set(words.templates) == set(ReasonKey), lang
        assert set(words.states) == set(AgentState), lang
        assert len(set(words.weekdays)) == 7, lang


@pytest.mark.parametrize("key", list(ReasonKey))
def test_every_key_renders_in_every_language(key: ReasonKey) -> None:
    reason = sample(key)
    texts = localized(reason)
    assert set(texts) == set(LANGUAGES)
    assert all(texts.values())
    assert texts["en"] != texts["ru"]
    # No English word is left in Russian ("CRM" and "VIP" are written so in Russian too).
    assert set(latin(texts["ru"])) <= {"CRM", "VIP"}, texts["ru"]
    # And no Russian in English, with Latin values.
    english = render(sample(key, "Ivanova", "night"), "en")
    assert not re.search("[А-Яа-яЁё]", english), english


@pytest.mark.parametrize("state", list(AgentState))
@pytest.mark.parametrize("role", ["last-agent", "owner"])
def test_every_state_of_every_candidate_is_russian(state: AgentState, role: str) -> None:
    reason = Reason(K.QUEUE, {"parts": [part(K.MANAGER_BUSY, agent="Ан", role=role, state=state)]})
    assert set(latin(render(reason, "ru"))) == set()


@pytest.mark.parametrize(
    ("reason", "english", "russian"),
    [
        (
            Reason(K.PREVIOUS_MANAGER_FREE, {"agent": "Ivanova", "ago": 3 * 86400}),
            "Ivanova: talked 3 days ago",
            "Ivanova: разговаривали 3 дня назад",
        ),
        (
            Reason(K.PREVIOUS_MANAGER_OWNER_FREE, {"agent": "Ivanova", "ago": 60}),
            "Ivanova: talked 1 minute ago, owner",
            "Ivanova: разговаривали 1 минуту назад, ответственный",
        ),
        (
            Reason(K.OWNER_FREE, {"agent": "Petrov"}),
            "owner Petrov: responsible manager",
            "ответственный Petrov",
        ),
        (
            Reason(
                K.QUEUE,
                {
                    "parts": [
                        part(K.MANAGER_BUSY, agent="Ivanova", role="last-agent", state="on_call"),
                        part(K.MANAGER_BUSY, agent="Petrov", role="owner", state="paused"),
                    ]
                },
            ),
            "Ivanova is on a call, owner Petrov is paused → queue",
            "Ivanova разговаривает, ответственный Petrov на паузе → очередь",
        ),
        (
            Reason(
                K.MANAGER_BUSY_WAIT,
                {"agent": "Иванова, Анна", "role": "last-agent", "state": "wrap_up", "seconds": 25},
            ),
            "Иванова, Анна is in wrap-up: wait up to 25 s, then queue",
            "Иванова, Анна на постобработке: ждём до 25 с, затем очередь",
        ),
        (Reason(K.NO_CALLER_ID), "no caller ID → queue", "номер не определён → очередь"),
        (
            Reason(K.CALLER_ID_NOT_A_NUMBER, {"caller_id": "abc<>"}),
            "caller ID abc<> is not a phone number → queue",
            "номер abc<> — не телефонный → очередь",
        ),
        (
            Reason(K.NOT_IN_CRM, {"number": "+74951234567"}),
            "+74951234567 is not in the CRM → queue",
            "+74951234567 нет в CRM → очередь",
        ),
        (
            Reason(K.CRM_TIMEOUT),
            "CRM did not answer in time → queue",
            "CRM не ответила вовремя → очередь",
        ),
        (Reason(K.CRM_ERROR), "CRM lookup failed → queue", "ошибка поиска в CRM → очередь"),
        (
            Reason(
                K.VIP,
                {
                    "parts": [
                        part(K.MANAGER_BUSY, agent="Ivanova", role="last-agent", state="logged_out")
                    ],
                    "priority": 10,
                },
            ),
            "Ivanova is not logged in → queue (VIP, priority 10)",
            "Ivanova не в системе → очередь (VIP, приоритет 10)",
        ),
        (
            Reason(
                K.AFTER_HOURS_QUEUE,
                {"weekday": 5, "time": "21:05", "timezone": "Europe/Moscow", "queue": "night"},
            ),
            "after hours (Sat 21:05 Europe/Moscow) → queue night",
            "нерабочее время (сб 21:05 Europe/Moscow) → очередь night",
        ),
        (
            Reason(
                K.AFTER_HOURS,
                {"weekday": 0, "time": "08:59", "timezone": "UTC", "to": "voicemail,s,1"},
            ),
            "after hours (Mon 08:59 UTC) → voicemail,s,1",
            "нерабочее время (пн 08:59 UTC) → voicemail,s,1",
        ),
        (
            Reason(
                K.QUEUE,
                {
                    "parts": [
                        part(K.MANAGER_BUSY, agent="Kozlova", role="owner", state="paused"),
                        part(K.LAST_TALK_TOO_OLD, agent="Petrov", ago=120 * 86400, days=90),
                        part(K.NO_DIALABLE_PHONE, agent="Broken", role="last-agent"),
                    ]
                },
            ),
            "owner Kozlova is paused, Petrov: last talked 120 days ago, over 90 days,"
            " Broken has no dialable phone → queue",
            "ответственный Kozlova на паузе, Petrov: последний разговор 120 дней назад,"
            " дольше 90 дн., Broken: нет телефона для вызова → очередь",
        ),
        (
            Reason(K.QUEUE, {"parts": [part(K.NO_RECENT_MANAGER, who="ООО Ромашка")]}),
            "ООО Ромашка: no recent agent or owner → queue",
            "ООО Ромашка: нет недавнего оператора и ответственного → очередь",
        ),
        (
            Reason(K.QUEUE, {"parts": [part(K.PERSONAL_ROUTING_OFF, who="Иван Петров")]}),
            "Иван Петров: personal routing is off → queue",
            "Иван Петров: персональная маршрутизация выключена → очередь",
        ),
        (
            Reason(K.QUEUE, {"parts": [part(K.LAST_TALK_TOO_OLD, agent="A", ago=0, days=7.5)]}),
            "A: last talked just now, over 7.5 days → queue",
            "A: последний разговор только что, дольше 7.5 дн. → очередь",
        ),
    ],
)
def test_examples(reason: Reason, english: str, russian: str) -> None:
    assert render(reason, "en") == render(reason) == english
    assert render(reason, "ru") == russian
    assert render(reason, "de") == english  # a language without a wording: English


@pytest.mark.parametrize(
    ("seconds", "english", "russian"),
    [
        (59, "just now", "только что"),
        (60, "1 minute ago", "1 минуту назад"),
        (42 * 60, "42 minutes ago", "42 минуты назад"),
        (11 * 60, "11 minutes ago", "11 минут назад"),
        (21 * 3600, "21 hours ago", "21 час назад"),
        (3599, "59 minutes ago", "59 минут назад"),
        (5 * 3600, "5 hours ago", "5 часов назад"),
        (86400 + 7200, "1 day ago", "1 день назад"),
        (22 * 86400, "22 days ago", "22 дня назад"),
        (112 * 86400, "112 days ago", "112 дней назад"),
    ],
)
def test_ages(seconds: int, english: str, russian: str) -> None:
    reason = Reason(K.PREVIOUS_MANAGER_FREE, {"agent": "A", "ago": seconds})
    assert render(reason, "en") == f"A: talked {english}"
    assert render(reason, "ru") == f"A: разговаривали {russian}"


def test_names_pass_through_untouched() -> None:
    hostile = "owner <script>{0}{agent}</script>, is on a call"
    reason = Reason(
        K.QUEUE, {"parts": [part(K.MANAGER_BUSY, agent=hostile, role="owner", state="on_call")]}
    )
    assert render(reason, "ru") == f"ответственный {hostile} разговаривает → очередь"
    assert render(reason, "en") == f"owner {hostile} is on a call → queue"


@pytest.mark.parametrize("key", sorted(PARTS))
def test_every_part_joins_a_queue_reason(key: ReasonKey) -> None:
    first = sample(K.MANAGER_BUSY, "Ан")
    reason = Reason(K.QUEUE, {"parts": [first.to_json(), sample(key).to_json()]})
    assert reason.parts == (first, sample(key))
    for lang, tail in (("en", " → queue"), ("ru", " → очередь")):
        said = render(reason, lang)
        assert said == f"{render(first, lang)}, {render(sample(key), lang)}{tail}"


def test_stored_reasons_come_back_or_fall_back_to_the_text() -> None:
    reason = sample(K.VIP)
    stored = reason.to_json()
    assert Reason.from_json(stored) == reason
    assert restore(stored["key"], stored["values"]) == reason
    text = "owner Petrov: responsible manager"
    values = {"agent": "Petrov"}
    assert localize(text, "owner_free", values, "ru") == "ответственный Petrov"
    assert localize(text, "owner_free", values, "en") == text
    # Calls stored before the key was, or routed by a dialplan of their own: the text.
    assert localize(text, None, None, "ru") == text
    assert localize(None, None, None, "ru") is None
    # A key this version does not know, or values that do not fit it: the text.
    assert localize(text, "future_reason", values, "ru") == text
    assert localize(text, "owner_free", ["Petrov"], "ru") == text
    assert localize(text, "owner_free", {}, "ru") == text
    assert localize(text, "manager_busy", {"agent": "A", "state": "dancing"}, "ru") == text
    late = {"weekday": 9, "time": "", "timezone": "", "to": ""}
    assert localize(text, "after_hours", late, "ru") == text
