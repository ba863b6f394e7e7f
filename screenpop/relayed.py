"""What a node learned of the pops from the other nodes of a cluster.

A node that does not consume AMI has no calls of its own: its agents' pops, call
answers and agent states are made by the node that consumes AMI and reach this node's
sockets through the cluster's relay (`trubka.cluster`). The relay shows every such
message to :class:`RelayedPops` too, so that this node can still welcome a
(re)connecting socket with the agent's state, the calls ringing for them and the call
they are on, tell the panel the current call, and check who took part in a call
(wrap-ups) — the same answers the notifier gives from its own events.

Messages are kept per user exactly as that user got them (the agent's name as they know
it). A call's entries go when it ends; participants of recent calls are remembered like
the notifier's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

RECENT_CALLS = 20_000  # calls whose participants are remembered

Message = dict[str, Any]


class RelayedPops:
    def __init__(self) -> None:
        self._pops: dict[tuple[str, int], Message] = {}  # (linkedid, user) -> screen_pop
        self._watched: dict[tuple[str, str], Message] = {}  # (linkedid, agent) -> followers' pop
        self._answered: dict[str, tuple[set[int], Message]] = {}  # linkedid -> (users, message)
        self._states: dict[int, dict[str, Message]] = {}  # user -> agent -> agent_state
        self._recent: OrderedDict[str, set[int]] = OrderedDict()
        self.observed = 0

    def observe(self, users: Iterable[int], message: Message) -> None:
        """A message another node sent to these users' sockets."""
        self.observed += 1
        kind = message.get("type")
        linkedid = str(message.get("linkedid") or "")
        targets = set(users)
        if kind == "screen_pop":
            for user in targets:
                self._pops[(linkedid, user)] = message
        elif kind == "screen_pop_withdrawn":
            for user in targets:
                self._pops.pop((linkedid, user), None)
        elif kind == "call_answered":
            for user in targets:
                self._pops.pop((linkedid, user), None)
            self._answered[linkedid] = (targets, message)
            self._remember(linkedid, targets)
        elif kind == "call_transferred":
            known = self._answered.get(linkedid)
            if known is not None:
                known[0].difference_update(targets)
        elif kind == "call_ended":
            self._remember(linkedid, targets)
            self._end(linkedid)
        elif kind == "agent_state":
            agent = str(message.get("agent_interface") or "")
            for user in targets:
                self._states.setdefault(user, {})[agent] = message

    def observe_followers(self, message: Message) -> None:
        """A message another node sent to the supervisors' sockets (pops they watch)."""
        kind = message.get("type")
        linkedid = str(message.get("linkedid") or "")
        agent = str(message.get("agent_interface") or "")
        if kind == "screen_pop":
            self._watched[(linkedid, agent)] = message
        elif kind == "screen_pop_withdrawn":
            self._watched.pop((linkedid, agent), None)
        elif kind in ("call_answered", "call_ended"):
            for key in [k for k in self._watched if k[0] == linkedid]:
                del self._watched[key]

    def forget_calls(self) -> None:
        """The whole picture follows: drop the ringing pops and answered calls known so
        far (agent states are replaced one by one as it comes)."""
        self._pops.clear()
        self._watched.clear()
        self._answered.clear()

    def _end(self, linkedid: str) -> None:
        self._answered.pop(linkedid, None)
        for key in [k for k in self._pops if k[0] == linkedid]:
            del self._pops[key]
        for watched in [k for k in self._watched if k[0] == linkedid]:
            del self._watched[watched]

    def _remember(self, linkedid: str, users: set[int]) -> None:
        known = self._recent.get(linkedid)
        if known is None:
            self._recent[linkedid] = set(users)
            while len(self._recent) > RECENT_CALLS:
                self._recent.popitem(last=False)
        else:
            known |= users

    # --- answers ---------------------------------------------------------------------
    def welcome(self, user_id: int, *, follow_all: bool = False) -> list[Message]:
        """What a new socket of this user gets: agent states, ringing pops, the call."""
        messages = list(self._states.get(user_id, {}).values())
        messages += [m for (_lid, user), m in self._pops.items() if user == user_id]
        if follow_all:
            mine = {m["linkedid"] for m in messages if m.get("type") == "screen_pop"}
            messages += [m for (lid, _a), m in self._watched.items() if lid not in mine]
        messages += [m for users, m in self._answered.values() if user_id in users]
        return messages

    def agent_states(self, user_id: int) -> dict[str, Message]:
        return dict(self._states.get(user_id, {}))

    def current_call(self, user_id: int) -> Message | None:
        for users, message in self._answered.values():
            if user_id in users:
                return message
        return None

    def participants(self, linkedid: str) -> set[int]:
        return set(self._recent.get(linkedid, ()))
