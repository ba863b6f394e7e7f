"""Routing reasons in words: a :class:`~routing.decision.Reason` rendered in a language.

Pure, no I/O. `render(reason, "en")` is the English every decision carries as its
`reason` (ROUTE_REASON over FastAGI, the call record's `routing_reason`, `/api/route`);
pages and the screen pop render the same reason in the reader's language. Each language
has a template per :class:`~routing.decision.ReasonKey` and the words the templates fill
in (how an owner is named, agent states, weekdays, "3 days ago"). Names, numbers and
destinations are values and pass through untouched.

The catalogue is plain dicts rather than gettext catalogues: routing is below every
package that shows a reason (telephony writes ROUTE_REASON, the screen pop and the pages
render it), the English must stay exactly what ROUTE_REASON always said, and Russian
needs its own plural forms for ages; one table per language, checked by the tests for
every key, keeps all of it here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kernel.agents import AgentState
from routing.decision import Reason, ReasonKey

K = ReasonKey


@dataclass(frozen=True, slots=True)
class Wording:
    """One language's words for reasons."""

    templates: Mapping[str, str]  # by ReasonKey
    owner: str  # how a candidate who is the owner is named: "owner {agent}"
    states: Mapping[str, str]  # by AgentState
    weekdays: tuple[str, str, str, str, str, str, str]  # Monday first
    ago: Callable[[int], str]  # whole seconds -> "3 days ago"


def _plural_en(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _ago_en(seconds: int) -> str:
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return _plural_en(seconds // 60, "minute") + " ago"
    if seconds < 86400:
        return _plural_en(seconds // 3600, "hour") + " ago"
    return _plural_en(seconds // 86400, "day") + " ago"


def _plural_ru(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        word = one
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        word = few
    else:
        word = many
    return f"{n} {word}"


def _ago_ru(seconds: int) -> str:
    if seconds < 60:
        return "только что"
    if seconds < 3600:
        return _plural_ru(seconds // 60, "минуту", "минуты", "минут") + " назад"
    if seconds < 86400:
        return _plural_ru(seconds // 3600, "час", "часа", "часов") + " назад"
    return _plural_ru(seconds // 86400, "день", "дня", "дней") + " назад"


ENGLISH = Wording(
    templates={
        K.PREVIOUS_MANAGER_FREE: "{agent}: talked {ago}",
        K.PREVIOUS_MANAGER_OWNER_FREE: "{agent}: talked {ago}, owner",
        K.OWNER_FREE: "owner {agent}: responsible manager",
        K.MANAGER_BUSY_WAIT: "{label} {state}: wait up to {seconds} s, then queue",
        K.QUEUE: "{parts} → queue",
        K.VIP: "{parts} → queue (VIP, priority {priority})",
        K.AFTER_HOURS: "after hours ({day} {time} {timezone}) → {to}",
        K.AFTER_HOURS_QUEUE: "after hours ({day} {time} {timezone}) → queue {queue}",
        K.NO_CALLER_ID: "no caller ID → queue",
        K.CALLER_ID_NOT_A_NUMBER: "caller ID {caller_id} is not a phone number → queue",
        K.NOT_IN_CRM: "{number} is not in the CRM → queue",
        K.CRM_TIMEOUT: "CRM did not answer in time → queue",
        K.CRM_ERROR: "CRM lookup failed → queue",
        K.MANAGER_BUSY: "{label} {state}",
        K.NO_DIALABLE_PHONE: "{label} has no dialable phone",
        K.LAST_TALK_TOO_OLD: "{agent}: last talked {ago}, over {days} days",
        K.NO_RECENT_MANAGER: "{who}: no recent agent or owner",
        K.PERSONAL_ROUTING_OFF: "{who}: personal routing is off",
    },
    owner="owner {agent}",
    states={
        AgentState.ON_CALL: "is on a call",
        AgentState.RINGING: "is ringing for another call",
        AgentState.WRAP_UP: "is in wrap-up",
        AgentState.PAUSED: "is paused",
        AgentState.LOGGED_OUT: "is not logged in",
        AgentState.UNAVAILABLE: "is unavailable",
        AgentState.AVAILABLE: "is free",
    },
    weekdays=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    ago=_ago_en,
)

RUSSIAN = Wording(
    templates={
        K.PREVIOUS_MANAGER_FREE: "{agent}: разговаривали {ago}",
        K.PREVIOUS_MANAGER_OWNER_FREE: "{agent}: разговаривали {ago}, ответственный",
        K.OWNER_FREE: "ответственный {agent}",
        K.MANAGER_BUSY_WAIT: "{label} {state}: ждём до {seconds} с, затем очередь",
        K.QUEUE: "{parts} → очередь",
        K.VIP: "{parts} → очередь (VIP, приоритет {priority})",
        K.AFTER_HOURS: "нерабочее время ({day} {time} {timezone}) → {to}",
        K.AFTER_HOURS_QUEUE: "нерабочее время ({day} {time} {timezone}) → очередь {queue}",
        K.NO_CALLER_ID: "номер не определён → очередь",
        K.CALLER_ID_NOT_A_NUMBER: "номер {caller_id} — не телефонный → очередь",
        K.NOT_IN_CRM: "{number} нет в CRM → очередь",
        K.CRM_TIMEOUT: "CRM не ответила вовремя → очередь",
        K.CRM_ERROR: "ошибка поиска в CRM → очередь",
        K.MANAGER_BUSY: "{label} {state}",
        K.NO_DIALABLE_PHONE: "{label}: нет телефона для вызова",
        K.LAST_TALK_TOO_OLD: "{agent}: последний разговор {ago}, дольше {days} дн.",
        K.NO_RECENT_MANAGER: "{who}: нет недавнего оператора и ответственного",
        K.PERSONAL_ROUTING_OFF: "{who}: персональная маршрутизация выключена",
    },
    owner="ответственный {agent}",
    states={
        AgentState.ON_CALL: "разговаривает",
        AgentState.RINGING: "принимает другой вызов",
        AgentState.WRAP_UP: "на постобработке",
        AgentState.PAUSED: "на паузе",
        AgentState.LOGGED_OUT: "не в системе",
        AgentState.UNAVAILABLE: "недоступен",
        AgentState.AVAILABLE: "свободен",
    },
    weekdays=("пн", "вт", "ср", "чт", "пт", "сб", "вс"),
    ago=_ago_ru,
)

WORDINGS: Mapping[str, Wording] = {"en": ENGLISH, "ru": RUSSIAN}
LANGUAGES = tuple(WORDINGS)


# Rendered reasons by (language, key, values): most calls repeat a few (an agent's name
# and an age, "not in the CRM" with a number …), and every decision renders its English.
# Bounded: cleared when full. Reasons whose values do not hash (parts) are not kept, nor
# those whose values differ call by call (a caller's number).
_RENDERED: dict[tuple[str, str, tuple[tuple[str, Any], ...]], str] = {}
RENDERED_MAX = 4096
_PER_CALLER = frozenset({K.NOT_IN_CRM, K.CALLER_ID_NOT_A_NUMBER})


def render(reason: Reason, lang: str = "en") -> str:
    """The reason in `lang` (English for a language without a wording).

    Raises KeyError, ValueError, TypeError or IndexError when the values do not fit
    the key (a stored reason gone wrong: see :func:`localize`)."""
    values = reason.values
    if "parts" in values or reason.key in _PER_CALLER:
        return _render(reason.key, values, WORDINGS.get(lang, ENGLISH))
    cache_key = (lang, reason.key, tuple(values.items()))
    try:
        text = _RENDERED.get(cache_key)
    except TypeError:  # a value that does not hash (a stored reason gone odd)
        return _render(reason.key, values, WORDINGS.get(lang, ENGLISH))
    if text is None:
        text = _render(reason.key, values, WORDINGS.get(lang, ENGLISH))
        if len(_RENDERED) >= RENDERED_MAX:
            _RENDERED.clear()
        _RENDERED[cache_key] = text
    return text


# Values that are put in words before they fill a template.
_WORDED = frozenset({"agent", "state", "ago", "weekday", "days", "parts"})


def _render(key: str, values: Mapping[str, Any], words: Wording) -> str:
    # Keys and states are StrEnums: their plain string values find them in the tables.
    if _WORDED.isdisjoint(values):  # a number, a caller ID …: the values as they are
        return words.templates[key].format_map(values)
    fields = dict(values)
    if "agent" in values:
        agent = str(values["agent"])
        fields["label"] = (
            words.owner.format(agent=agent) if values.get("role") == "owner" else agent
        )
    if "state" in values:
        fields["state"] = words.states[values["state"]]
    if "ago" in values:
        fields["ago"] = words.ago(int(values["ago"]))
    if "weekday" in values:
        fields["day"] = words.weekdays[int(values["weekday"])]
    if "days" in values:
        fields["days"] = f"{float(values['days']):g}"
    if "parts" in values:
        fields["parts"] = ", ".join(
            _render(part["key"], part.get("values") or {}, words) for part in values["parts"]
        )
    return words.templates[key].format_map(fields)


def localized(reason: Reason) -> dict[str, str]:
    """The reason in every language (what the screen pop carries)."""
    return {lang: render(reason, lang) for lang in LANGUAGES}


def restore(key: str | None, values: Any) -> Reason | None:
    """A reason stored as its key and values; None for a call stored without one (before
    reasons were stored, or routed by a dialplan of its own) or with an unknown key."""
    if not key or not isinstance(values, Mapping):
        return None
    try:
        return Reason(ReasonKey(key), dict(values))
    except ValueError:
        return None


def localize(text: str | None, key: str | None, values: Any, lang: str) -> str | None:
    """What a page shows for a call's routing reason: the stored reason in `lang`, else
    the English text stored with the call, as it was written."""
    reason = restore(key, values)
    if reason is None:
        return text
    try:
        return render(reason, lang)
    except (KeyError, ValueError, TypeError, IndexError):
        return text
