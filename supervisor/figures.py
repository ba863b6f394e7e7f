"""The report definitions: additive totals, and the KPIs computed from them (pure).

Every report (per queue, per agent, per day or hour) sums :class:`Totals` over rollup
rows and then derives its figures here, so one definition serves all of them. The
definitions are explained, with their Asterisk counterparts, in ``docs/reports.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

ANSWERED = "answered"
ABANDONED = "abandoned"
OUTBOUND = "outbound"
INBOUND = "inbound"


@dataclass(slots=True)
class Totals:
    """Additive counters of one group of calls (a rollup row, or a sum of rows)."""

    offered: int = 0  # customer calls: entered a queue (QueueCallerJoin), or inbound routed
    # straight to a person (previous manager, owner, VIP …) without a queue
    answered: int = 0  # queue calls an agent answered (AgentConnect); direct inbound answered
    abandoned: int = 0  # queue calls that left with QueueCallerAbandon (hang-up, timeout, empty)
    unanswered: int = (
        0  # other calls not answered (inbound outside queues; queue exits w/o abandon)
    )
    answered_within_sl: int = 0  # answered with hold ≤ threshold
    abandoned_within_sl: int = 0  # abandoned with hold ≤ threshold
    hold_answered_seconds: float = 0.0  # Σ hold time of answered calls (→ ASA)
    hold_abandoned_seconds: float = 0.0  # Σ hold time of abandoned calls
    max_hold_seconds: float = 0.0  # the longest hold of the group
    talk_seconds: float = 0.0  # Σ talk time of answered calls (→ AHT)
    outbound: int = 0  # outbound calls placed by agents
    outbound_answered: int = 0
    outbound_talk_seconds: float = 0.0

    def add(self, other: Totals) -> None:
        for name in _NAMES:
            if name == "max_hold_seconds":
                self.max_hold_seconds = max(self.max_hold_seconds, other.max_hold_seconds)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def add_calls(
        self,
        *,
        queue: str,
        direction: str,
        disposition: str,
        has_agent: bool,
        within_sl: bool,
        count: int = 1,
        hold: float = 0.0,
        talk: float = 0.0,
        max_hold: float | None = None,
    ) -> None:
        """Count `count` alike calls whose hold and talk times add up to `hold` and `talk`.

        The one place where a call's contribution to the reports is defined. `within_sl`
        is `hold time ≤ threshold` for each of them; `max_hold` their longest hold.
        """
        answered = disposition == ANSWERED
        if queue:
            self.offered += count
            self.max_hold_seconds = max(
                self.max_hold_seconds, hold if max_hold is None else max_hold
            )
            if answered:
                self._answered(count, hold, talk, within_sl)
            elif disposition == ABANDONED:
                self.abandoned += count
                self.hold_abandoned_seconds += hold
                if within_sl:
                    self.abandoned_within_sl += count
            else:
                self.unanswered += count
        elif direction == OUTBOUND:
            if has_agent:
                self.outbound += count
                if answered:
                    self.outbound_answered += count
                    self.outbound_talk_seconds += talk
        elif direction == INBOUND:
            self.offered += count  # a routed call is a customer call too: counted once
            if answered and has_agent:
                self._answered(count, hold, talk, within_sl)
            elif not answered:
                self.unanswered += count

    def _answered(self, count: int, hold: float, talk: float, within_sl: bool) -> None:
        self.answered += count
        self.hold_answered_seconds += hold
        self.talk_seconds += talk
        if within_sl:
            self.answered_within_sl += count

    @classmethod
    def column_names(cls) -> list[str]:
        return list(_NAMES)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _NAMES}


_NAMES = tuple(f.name for f in fields(Totals))


def _ratio(part: float, whole: float, scale: float = 1.0) -> float | None:
    return round(scale * part / whole, 1) if whole else None


def service_level(t: Totals) -> float | None:
    """% answered within the threshold, over the calls that were *owed* an answer in time.

    Numerator: answered with hold ≤ threshold. Denominator: answered + abandoned after
    the threshold + other unanswered queue exits. Callers who hung up before the
    threshold are left out: the call center had not yet broken its promise to them.
    """
    owed = t.answered + (t.abandoned - t.abandoned_within_sl) + t.unanswered
    return _ratio(t.answered_within_sl, owed, 100.0)


FIGURE_DEFINITIONS: dict[str, str] = {
    "offered": "Customer calls, each counted once. Per queue: the calls that entered that "
    "queue (Asterisk's QueueCallerJoin). Per line, per day and per hour: also the inbound "
    "calls routed straight to a person (previous manager, owner, VIP) without a queue.",
    "answered": "Calls an agent answered (per queue: AgentConnect).",
    "abandoned": "Queue calls the caller left (QueueCallerAbandon: hang-up, timeout, empty queue).",
    "unanswered": "Other calls nobody answered: queue exits without an abandon, routed "
    "calls not picked up.",
    "routed": "Per line: inbound calls routed straight to a person, without a queue.",
    "queued": "Per line: inbound calls that went through a queue (a routed call that fell "
    "through to a queue is counted here, once).",
    "service_level": "% answered within the threshold, over answered + abandoned after the "
    "threshold + unanswered. Short abandons (the caller hung up within the threshold) are "
    "left out of both sides: the call center had not yet broken its promise. Abandoned "
    "% counts them, so a high service level can sit beside a high abandon rate.",
    "sl_threshold_seconds": "The threshold the figures used: TRUBKA_QUEUE_SERVICE_LEVELS "
    "(source setting), else the queue's servicelevel in queues.conf (source asterisk), "
    "else TRUBKA_SERVICE_LEVEL_SECONDS (source default).",
    "abandon_rate": "% of offered calls abandoned, short abandons included.",
    "asa_seconds": "Average hold time of answered calls.",
    "aht_seconds": "Average talk time of answered calls (wrap-up not included).",
    "agents": "The agents report lists Trubka users' interfaces and queue members (and "
    "whoever answered a queue call in the period); other dialled channels are not agents.",
}


def queue_figures(t: Totals) -> dict[str, Any]:
    """The figures of a queue report row."""
    return {
        "offered": t.offered,
        "answered": t.answered,
        "abandoned": t.abandoned,
        "unanswered": t.unanswered,
        "answered_within_sl": t.answered_within_sl,
        "abandoned_within_sl": t.abandoned_within_sl,
        "service_level": service_level(t),
        "servicelevel_perf": _ratio(t.answered_within_sl, t.answered, 100.0),
        "servicelevel_perf2": _ratio(
            t.answered_within_sl + t.abandoned_within_sl, t.answered + t.abandoned, 100.0
        ),
        "answer_rate": _ratio(t.answered, t.offered, 100.0),
        "abandon_rate": _ratio(t.abandoned, t.offered, 100.0),
        "asa_seconds": _ratio(t.hold_answered_seconds, t.answered),
        "aht_seconds": _ratio(t.talk_seconds, t.answered),
        "avg_abandon_seconds": _ratio(t.hold_abandoned_seconds, t.abandoned),
        "longest_wait_seconds": round(t.max_hold_seconds, 1),
        "talk_seconds": round(t.talk_seconds, 1),
    }


def agent_figures(t: Totals) -> dict[str, Any]:
    """The call figures of an agent report row (state times are added by the report)."""
    return {
        "answered": t.answered,
        "answered_within_sl": t.answered_within_sl,
        "talk_seconds": round(t.talk_seconds, 1),
        "aht_seconds": _ratio(t.talk_seconds, t.answered),
        "asa_seconds": _ratio(t.hold_answered_seconds, t.answered),
        "outbound": t.outbound,
        "outbound_answered": t.outbound_answered,
        "outbound_talk_seconds": round(t.outbound_talk_seconds, 1),
    }
