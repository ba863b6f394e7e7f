"""Words for the keys the lower layers store and send: pause reasons, call steps and their
details, deal changes — so a page never shows `lunch`, `routing-decision` or `created`.

Templates get `pause_label(key)`, `audit_label(key)`, `deal_event_label(kind)` and
`step_detail(step, call, …)` (each returns a msgid to pass through `_`, or the stored text
as is when it is not one of ours); `web.pages.calls.STEP_KINDS` is extended with the
kinds listed here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from web.i18n import N_

PAUSE_REASONS = {
    "lunch": N_("Lunch"),
    "break": N_("Break"),
    "training": N_("Training"),
    "meeting": N_("Meeting"),
    "paperwork": N_("Paperwork"),
    "after-call work": N_("After-call work"),
    "wrap-up": N_("After-call work"),
    "technical problem": N_("Technical problem"),
}

DEAL_EVENTS = {
    "created": N_("deal created"),
    "stage": N_("stage changed"),
    "amount": N_("amount changed"),
    "owner": N_("owner changed"),
}

# The supervisor actions' audit (reports, admins): what was done, and how it went.
AUDIT_WORDS = {
    "listen": N_("Listen"),
    "whisper": N_("Whisper"),
    "barge": N_("Barge"),
    "pause": N_("Pause"),
    "unpause": N_("Unpause"),
    "queue_remove": N_("Log out of the queue"),
    "hangup": N_("Hang up"),
    "done": N_("done"),
    "refused": N_("refused"),
    "failed": N_("failed"),
}

# Step kinds the call page had no words for.
MORE_STEP_KINDS = {
    "routing-decision": N_("Routing decision"),
    "spy": N_("A supervisor joined (listen, whisper or barge)"),
}

OUTAGE_DETAIL = N_("closed when the PBX link came back")
ABANDONED_DETAIL = N_("{queue}, after {seconds} s")
FALLBACK_DETAIL = N_("{agent} → queue {queue}")

# AgentComplete's reason: who ended the conversation
COMPLETED_DETAIL = {
    "caller": N_("{agent}: talked {seconds} s, the caller hung up"),
    "agent": N_("{agent}: talked {seconds} s, the agent hung up"),
    "transfer": N_("{agent}: talked {seconds} s, then transferred"),
}

DISPOSITION_WORDS = {
    "answered": N_("answered"),
    "abandoned": N_("abandoned"),
    "no-answer": N_("no answer"),
    "busy": N_("busy"),
    "failed": N_("failed"),
}

_ABANDONED = re.compile(r"^(?P<queue>.*) after (?P<seconds>\d+)s$")
_FALLBACK = re.compile(r"^(?P<agent>.*) → queue (?P<queue>.*)$")
_COMPLETED = re.compile(r"^(?P<agent>.*): talk (?P<seconds>\d+)s, (?P<reason>\w+)$")


def pause_label(key: str | None) -> str:
    """The msgid for a pause reason key (`lunch` → "Lunch"), else the text as typed."""
    if not key:
        return ""
    return PAUSE_REASONS.get(key.strip().lower(), key)


def audit_label(key: str | None) -> str:
    """The msgid for an audit row's action or outcome key, else the key."""
    return AUDIT_WORDS.get(key or "", key or "")


def deal_event_label(kind: str | None) -> str:
    return DEAL_EVENTS.get(kind or "", kind or "")


def step_detail(
    step: Mapping[str, Any],
    call: Mapping[str, Any],
    gettext: Callable[[str], str],
    reason: Callable[[Mapping[str, Any], str], str | None],
    lang: str,
) -> str:
    """A step's detail in the page's language where it is made of our words."""
    kind = str(step.get("kind") or "")
    detail = str(step.get("detail") or "")
    if kind == "ended" and detail in DISPOSITION_WORDS:
        return gettext(DISPOSITION_WORDS[detail])
    if kind == "ended-during-outage":
        return gettext(OUTAGE_DETAIL)
    if kind == "routing-decision" and call.get("routing_reason"):
        return reason(call, lang) or detail
    if kind == "abandoned" and (found := _ABANDONED.match(detail)):
        return gettext(ABANDONED_DETAIL).format(**found.groupdict())
    if kind == "completed" and (found := _COMPLETED.match(detail)):
        words = COMPLETED_DETAIL.get(found["reason"])
        if words:
            return gettext(words).format(agent=found["agent"], seconds=found["seconds"])
    if kind == "routed-fallback" and (found := _FALLBACK.match(detail)):
        return gettext(FALLBACK_DETAIL).format(**found.groupdict())
    return detail
