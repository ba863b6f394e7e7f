"""Recent routing decisions by call, so the screen pop can say why a call came to an agent.

The FastAGI handler remembers each decision under the channel's uniqueid and, when the
live state already knows the channel, the call's linkedid. The ringing agent's screen
pop looks it up by linkedid (or by the uniqueids of the call's channels) before the
``ROUTE_REASON`` VarSet has even reached the reducer, and the call record is stored with
the decision's structured reason (:meth:`RecentDecisions.reason`). Bounded in size and age.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from routing.decision import Decision, Reason
from telephony.agi import clean_text

REASON_LIMIT = 200  # characters of ROUTE_REASON, the channel variable
# (linkedid, the ROUTE_REASON reported for the call or None) -> the decision's reason, as
# the composition root gives it to the screen pop and the call store.
ReasonLookup = Callable[[str, str | None], Reason | None]


# ROUTE_REASON by reason: most calls repeat a few (bounded: cleared when full).
_SAID: dict[str, str] = {}
SAID_MAX = 4096


def said(decision: Decision) -> str:
    """The decision's reason as ROUTE_REASON carries it (printable, at most 200 characters)."""
    reason = decision.reason
    text = _SAID.get(reason)
    if text is None:
        text = clean_text(reason, REASON_LIMIT)
        if len(_SAID) >= SAID_MAX:
            _SAID.clear()
        _SAID[reason] = text
    return text


class RecentDecisions:
    def __init__(
        self, maxlen: int = 20_000, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if maxlen < 1 or ttl <= 0:
            raise ValueError("maxlen and ttl must be positive")
        self.maxlen = maxlen
        self.ttl = ttl
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, Decision]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def remember(
        self, decision: Decision, *, uniqueid: str | None, linkedid: str | None = None
    ) -> None:
        now = self._clock()
        expires = now + self.ttl
        for key in {k for k in (uniqueid, linkedid) if k}:
            self._items[key] = (expires, decision)
            self._items.move_to_end(key)
        self._evict(now)

    def get(self, key: str) -> Decision | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del self._items[key]
            return None
        return item[1]

    def find(self, linkedid: str | None, uniqueids: Iterable[str] = ()) -> Decision | None:
        """The decision for a call, by its linkedid or any of its channels' uniqueids."""
        for key in (linkedid, *uniqueids):
            if key:
                decision = self.get(key)
                if decision is not None:
                    return decision
        return None

    def routing_reason(self, linkedid: str | None, uniqueids: Iterable[str] = ()) -> str | None:
        decision = self.find(linkedid, uniqueids)
        return decision.reason if decision else None

    def reason(
        self, linkedid: str | None, uniqueids: Iterable[str] = (), *, said_as: str | None = None
    ) -> Reason | None:
        """The structured reason of a call's decision. With `said_as` (the ROUTE_REASON the
        PBX reported for the call), only when that is what this decision said: a reason set
        by a dialplan of its own is not mistaken for the one remembered."""
        decision = self.find(linkedid, uniqueids)
        if decision is None or decision.why is None:
            return None
        if said_as is not None and said_as not in (decision.reason, said(decision)):
            return None
        return decision.why

    def _evict(self, now: float) -> None:
        items = self._items
        while items:
            key, (expires, _) = next(iter(items.items()))
            if expires > now and len(items) <= self.maxlen:
                break
            del items[key]
