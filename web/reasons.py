"""Routing reasons in the reader's language.

`routing.decide` writes each decision's reason in plain English ("Ivanova: talked
3 days ago", "owner Petrov is on a call → queue"): that text goes to Asterisk as
`ROUTE_REASON`, into the call record and to scripts, and stays as it is. Pages and the
screen pop show it in the agent's language: `localize(reason, lang)` reads the reason
back along the grammar `routing.decide` writes (the tests render every branch of it) and
says the same in Russian. Names, numbers and destinations pass through untouched. A
reason it cannot read (an older wording, a custom one) is shown as it was written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from web.i18n import LANGUAGES

QUEUE_TAIL = " → queue"
_VIP = re.compile(r"^(?P<rest>.*) \(VIP, priority (?P<priority>\d+)\)$")
_AFTER = re.compile(
    r"^after hours \((?P<day>Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<time>\d\d:\d\d) (?P<zone>[^)]+)\)"
    r" → (?P<where>.+)$"
)
_DAYS_RU = {
    "Mon": "пн",
    "Tue": "вт",
    "Wed": "ср",
    "Thu": "чт",
    "Fri": "пт",
    "Sat": "сб",
    "Sun": "вс",
}
_STATES_RU = {
    "is on a call": "разговаривает",
    "is ringing for another call": "принимает другой вызов",
    "is in wrap-up": "на постобработке",
    "is paused": "на паузе",
    "is not logged in": "не в системе",
    "is unavailable": "недоступен",
    "is free": "свободен",
}
_STATE = "|".join(re.escape(s) for s in _STATES_RU)
_AGE = r"just now|\d+ (?:minute|hour|day)s? ago"
# One part of a reason: what is said of one candidate, or why there is none. Names come
# from the CRM and may hold anything but the separators.
_NAME = r"(?P<name>.+?)"
_PARTS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = []


def _part(pattern: str) -> Callable[[Callable[[re.Match[str]], str]], None]:
    def register(render: Callable[[re.Match[str]], str]) -> None:
        _PARTS.append((re.compile(pattern), render))

    return register


def _label(owner: str | None, name: str) -> str:
    return f"ответственный {name}" if owner else name


_UNITS_RU = {
    "minute": ("минуту", "минуты", "минут"),
    "hour": ("час", "часа", "часов"),
    "day": ("день", "дня", "дней"),
}


def _age_ru(age: str) -> str:
    if age == "just now":
        return "только что"
    count, unit, _ = age.split(" ", 2)
    n = int(count)
    one, few, many = _UNITS_RU[unit.rstrip("s")]
    if n % 10 == 1 and n % 100 != 11:
        word = one
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        word = few
    else:
        word = many
    return f"{n} {word} назад"


@_part(rf"(?P<owner>owner )?{_NAME}: talked (?P<age>{_AGE})(?P<also>, owner)?")
def _talked(m: re.Match[str]) -> str:
    also = ", ответственный" if m["also"] else ""
    return f"{_label(m['owner'], m['name'])}: разговаривали {_age_ru(m['age'])}{also}"


@_part(rf"owner {_NAME}: responsible manager")
def _owner_free(m: re.Match[str]) -> str:
    return f"ответственный {m['name']}"


@_part(rf"(?P<owner>owner )?{_NAME} (?P<state>{_STATE}): wait up to (?P<s>\d+) s, then queue")
def _wait(m: re.Match[str]) -> str:
    state = _STATES_RU[m["state"]]
    return f"{_label(m['owner'], m['name'])} {state}: ждём до {m['s']} с, затем очередь"


@_part(rf"(?P<owner>owner )?{_NAME} (?P<state>{_STATE})")
def _busy(m: re.Match[str]) -> str:
    return f"{_label(m['owner'], m['name'])} {_STATES_RU[m['state']]}"


@_part(rf"(?P<owner>owner )?{_NAME} has no dialable phone")
def _no_phone(m: re.Match[str]) -> str:
    return f"{_label(m['owner'], m['name'])}: нет телефона для вызова"


@_part(rf"{_NAME}: last talked (?P<age>{_AGE}), over (?P<days>[\d.]+) days")
def _too_old(m: re.Match[str]) -> str:
    return f"{m['name']}: последний разговор {_age_ru(m['age'])}, дольше {m['days']} дн."


@_part(rf"{_NAME}: no recent agent or owner")
def _nobody(m: re.Match[str]) -> str:
    return f"{m['name']}: нет недавнего оператора и ответственного"


@_part(rf"{_NAME}: personal routing is off")
def _off(m: re.Match[str]) -> str:
    return f"{m['name']}: персональная маршрутизация выключена"


_WHOLE = {
    "no caller ID": "номер не определён",
    "CRM did not answer in time": "CRM не ответила вовремя",
    "CRM lookup failed": "ошибка поиска в CRM",
}
_CALLER = re.compile(r"^caller ID (?P<raw>.+) is not a phone number$")
_UNKNOWN = re.compile(r"^(?P<number>\S+) is not in the CRM$")


def _parts_ru(text: str) -> str | None:
    """`part, part, …` in Russian, or None when the text does not split into parts of
    the grammar. A name may hold ", " too, so every split is tried, shortest part first."""
    if not text:
        return ""
    for end in _separators(text):
        for pattern, render in _PARTS:
            m = pattern.fullmatch(text, 0, end)
            if m is None:
                continue
            rest = _parts_ru(text[end + 2 :]) if end < len(text) else ""
            if rest is not None:
                return render(m) + (", " + rest if rest else "")
    return None


def _separators(text: str) -> list[int]:
    return [m.start() for m in re.finditer(", ", text)] + [len(text)]


@lru_cache(maxsize=4096)
def _russian(reason: str) -> str | None:
    m = _AFTER.match(reason)
    if m is not None:
        where = m["where"]
        if where.startswith("queue "):
            where = "очередь " + where[len("queue ") :]
        return f"нерабочее время ({_DAYS_RU[m['day']]} {m['time']} {m['zone']}) → {where}"
    vip = ""
    m = _VIP.match(reason)
    if m is not None:
        reason, vip = m["rest"], f" (VIP, приоритет {m['priority']})"
    if not reason.endswith(QUEUE_TAIL):
        said = _parts_ru(reason)
        return None if said is None or vip else said
    body = reason[: -len(QUEUE_TAIL)]
    if body in _WHOLE:
        said = _WHOLE[body]
    elif (m := _CALLER.match(body)) is not None:
        said = f"номер {m['raw']} — не телефонный"
    elif (m := _UNKNOWN.match(body)) is not None:
        said = f"{m['number']} нет в CRM"
    else:
        said = _parts_ru(body)
    return None if said is None else f"{said} → очередь{vip}"


def localized_reasons(reason: str | None) -> dict[str, str] | None:
    """The reason in every language of the pages (what the screen pop carries)."""
    if not reason:
        return None
    return {lang: localize(reason, lang) or reason for lang in LANGUAGES}


def localize(reason: str | None, lang: str) -> str | None:
    """The routing reason as the reader of `lang` reads it (see the module)."""
    if not reason or lang != "ru":
        return reason
    return _russian(reason) or reason
