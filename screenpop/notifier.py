"""Screen pops and agent updates: domain events in, WebSocket messages out.

The card is prepared when the call arrives (the caller's number is known before any
agent rings), so the pop itself is only a send. Messages (contract in docs/architecture.md):

* ``screen_pop`` — one of the agent's interfaces started ringing for a call. Sent again
  with ``"update": true`` when the card finishes loading after the first send.
* ``screen_pop_withdrawn`` — that ringing ended without this agent answering;
  ``reason`` is ``answered_elsewhere``, ``caller_hung_up`` or ``no_answer`` (the ring
  timed out and the queue moved on).
* ``call_answered`` / ``call_ended`` — the agent's call was answered / ended (the panel
  opens the wrap-up form). ``call_answered`` carries the prepared ``card`` too (a
  click-to-call has no pop before it).
* ``agent_state`` — the agent's state changed (available, ringing, on_call, wrap_up,
  paused with a reason, logged_out, unavailable).

A reconnecting socket gets the current state at once: the agent's state, every call
still ringing for them and the call they are on.

Pops and answers carry ``caller_number_display`` (the number as people of the region
write it) when the composition root gives a ``phone_display`` function, and why the call
came: ``routing_reason`` (English, as ROUTE_REASON said) and ``routing_reason_localized``
(``{lang: text}``: the routing decision's structured reason, found with the
``routing_reason`` lookup the root gives, rendered by ``routing.reasons``). The notifier
remembers who took part in recent calls (``participants``), so the panel may check that
a wrap-up is saved by someone who was on the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kernel import agents as agent_identity
from kernel.agents import interface_key, same_agent
from kernel.bus import Subscription
from routing.reasons import LANGUAGES, localized, render
from screenpop.hub import Client, Hub
from screenpop.relayed import RelayedPops
from telephony import domain as d
from telephony.records import iso
from telephony.reducer import CallState
from telephony.route_memo import ReasonLookup

log = logging.getLogger(__name__)

Card = dict[str, Any]


class AgentDirectory(Protocol):
    """Which users an agent interface belongs to (kept in memory: called per event)."""

    def users_for(self, agent_key: str) -> set[int]: ...

    def agents_of(self, user_id: int) -> set[str]: ...


class CardSource(Protocol):
    async def card_for(self, number: str | None) -> Card | None: ...


PhoneDisplay = Callable[[str], str]  # E.164 -> as people of the region write it
RECENT_CALLS = 20_000  # calls whose participants are remembered (wrap-ups after the call)
DISPLAY_CACHE = 4096  # caller numbers whose display spelling is kept (a ring-all pops many)


@dataclass(slots=True)
class StaticDirectory:
    """An AgentDirectory from a fixed map (tests, benchmarks, the demo before the CRM)."""

    users: dict[str, set[int]] = field(default_factory=dict)

    def users_for(self, agent_key: str) -> set[int]:
        users = self.users.get(interface_key(agent_key))
        if users is None:  # configured as `Local/201@from-queue/n`, or in another case
            users = next((u for a, u in self.users.items() if same_agent(a, agent_key)), set())
        return users

    def agents_of(self, user_id: int) -> set[str]:
        return {agent for agent, users in self.users.items() if user_id in users}


@dataclass(slots=True)
class _Pop:
    message: dict[str, Any]
    users: set[int]
    spelled: dict[int, str]  # user -> the agent's name they know it by, when another


class Notifier:
    def __init__(
        self,
        hub: Hub,
        live: CallState,
        directory: AgentDirectory,
        cards: CardSource | None = None,
        routing_reason: ReasonLookup | None = None,
        *,
        card_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
        phone_display: PhoneDisplay | None = None,
    ) -> None:
        self.hub = hub
        self.live = live
        self.directory = directory
        self.cards = cards
        self.routing_reason = routing_reason
        self.card_timeout = card_timeout
        self.clock = clock
        self.phone_display = phone_display
        self._displays: dict[str, str] = {}  # E.164 -> display (formatting costs ~0.1 ms)
        self._recent: OrderedDict[str, set[int]] = OrderedDict()  # linkedid -> user ids
        self._cards: dict[str, Card | None] = {}  # linkedid -> card, once loaded
        self._card_numbers: dict[str, str | None] = {}
        self._loading: dict[str, asyncio.Task[None]] = {}
        self._pops: dict[tuple[str, str], _Pop] = {}  # (linkedid, agent) -> pop
        self._answered: dict[str, tuple[str, dict[str, Any]]] = {}  # linkedid -> (agent, msg)
        self._aliases_known = 0  # how many agent aliases the pops' users were found with
        self.relayed: RelayedPops | None = None  # pops made by other nodes (a cluster)
        self.pops_sent = 0  # screen pops this node sent (first sends, not card updates)

    # --- running ---------------------------------------------------------------------
    async def run(self, subscription: Subscription[d.DomainEvent]) -> None:
        while True:
            event = await subscription.get()
            try:
                self.handle(event)
            except Exception:
                log.exception("screen pop: handling %r failed", type(event).__name__)

    async def stop(self) -> None:
        for task in list(self._loading.values()):
            task.cancel()
        if self._loading:
            await asyncio.gather(*self._loading.values(), return_exceptions=True)

    def handle(self, event: d.DomainEvent) -> None:
        if len(self.live.aliases) != self._aliases_known:
            self._aliases_learned()
        if isinstance(event, d.AgentRinging):
            self._ringing(event)
        elif isinstance(event, d.AgentRingEnded):
            self._ring_ended(event)
        elif isinstance(event, d.CallAnswered):
            self._call_answered(event)
        elif isinstance(event, d.CallTransferred):
            self._call_transferred(event)
        elif isinstance(event, d.CallEnded):
            self._call_ended(event)
        elif isinstance(event, d.SpySessionEnded):
            self._forget(event.uniqueid)  # a spy session may have looked like a call first
        elif isinstance(event, d.AgentStateChanged):
            self._agent_state(event)
        elif isinstance(event, (d.CallStarted, d.CallerIdentified, d.CallQueued)):
            self._prepare_card(event.linkedid, event.caller_number)

    # --- cards -----------------------------------------------------------------------
    def _prepare_card(self, linkedid: str, number: str | None) -> None:
        if self.cards is None or not number:
            return
        if self._card_numbers.get(linkedid, "") == number and (
            linkedid in self._cards or linkedid in self._loading
        ):
            return
        self._card_numbers[linkedid] = number
        previous = self._loading.pop(linkedid, None)
        if previous is not None:
            previous.cancel()
        self._cards.pop(linkedid, None)
        task = asyncio.get_running_loop().create_task(self._load_card(linkedid, number))
        self._loading[linkedid] = task

    async def _load_card(self, linkedid: str, number: str) -> None:
        assert self.cards is not None
        try:
            async with asyncio.timeout(self.card_timeout):
                card = await self.cards.card_for(number)
        except TimeoutError:
            log.warning("screen pop: the card for %s took over %.1fs", linkedid, self.card_timeout)
            card = None
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("screen pop: loading the card for %s failed", linkedid)
            card = None
        finally:
            self._loading.pop(linkedid, None)
        if self._card_numbers.get(linkedid) != number:
            return  # the number changed meanwhile: a newer load is under way
        self._cards[linkedid] = card
        # Pops sent before the card was ready get it now.
        for (pop_linkedid, _agent), pop in list(self._pops.items()):
            if pop_linkedid == linkedid:
                self._fill(pop.message, card)
                pop.message["update"] = True
                self._send(pop.users, pop.message, pop.spelled)
        answered = self._answered.get(linkedid)
        if answered is not None:
            agent_key, message = answered
            self._fill(message, card)
            message["update"] = True
            users, spelled = self._audience(agent_key)
            self._send(users, message, spelled)

    @staticmethod
    def _fill(message: dict[str, Any], card: Card | None) -> None:
        message["contact"] = card.get("contact") if card else None
        message["card"] = card

    def _reason(self, linkedid: str, said: str | None) -> tuple[str | None, dict[str, str] | None]:
        """Why the call was routed: in English and in every language of the pages. The
        decision's structured reason is rendered per language; a reason known only as
        the text the PBX reported (a dialplan's own) is that text in every language."""
        why = self.routing_reason(linkedid, said) if self.routing_reason is not None else None
        if why is not None:
            return said or render(why), localized(why)
        if said is None:
            return None, None
        return said, dict.fromkeys(LANGUAGES, said)

    # --- events ----------------------------------------------------------------------
    def _ringing(self, event: d.AgentRinging) -> None:
        users, spelled = self._audience(event.agent)
        reason, localized_reason = self._reason(event.linkedid, event.routing_reason)
        message: dict[str, Any] = {
            "type": "screen_pop",
            "linkedid": event.linkedid,
            "caller_number": event.caller_number,
            "caller_number_display": self._display(event.caller_number),
            "caller_name": event.caller_name,
            "contact": None,
            "routing_reason": reason,
            "routing_reason_localized": localized_reason,
            "queue": event.queue,
            "agent_interface": event.interface,
            "agent_name": event.agent_name,
            "direction": event.direction,
            "ringing_since": iso(event.at),
            "card": None,
        }
        if event.linkedid in self._cards:
            self._fill(message, self._cards[event.linkedid])
        elif self.cards is not None and event.caller_number and event.linkedid not in self._loading:
            self._prepare_card(event.linkedid, event.caller_number)
        self._pops[(event.linkedid, event.agent)] = _Pop(message, users, spelled)
        self._send(users, message, spelled)
        self.pops_sent += 1
        self.hub.to_followers(message, except_users=users)

    def _aliases_learned(self) -> None:
        """The live state learned another name of an agent (the phone a FreePBX member's
        Local channel dials, seen after its ring began): the users configured with that
        name get the pops already ringing for the agent."""
        self._aliases_known = len(self.live.aliases)
        for (_linkedid, agent), pop in list(self._pops.items()):
            users, spelled = self._audience(agent)
            added = users - pop.users
            if added:
                pop.users |= added
                pop.spelled.update({u: spelled[u] for u in added if u in spelled})
                self._send(added, pop.message, pop.spelled)

    def _ring_ended(self, event: d.AgentRingEnded) -> None:
        pop = self._pops.pop((event.linkedid, event.agent), None)
        if pop is None:
            return
        still = {u for (lid, _a), p in self._pops.items() if lid == event.linkedid for u in p.users}
        users = pop.users - still
        message = {
            "type": "screen_pop_withdrawn",
            "linkedid": event.linkedid,
            "reason": event.reason,
        }
        self.hub.to_users(users, message)
        self.hub.to_followers({**message, "agent_interface": event.agent}, except_users=users)

    def _call_answered(self, event: d.CallAnswered) -> None:
        users, spelled = self._audience(event.agent)
        pop = self._pops.pop((event.linkedid, event.agent), None)
        card = self._cards.get(event.linkedid)
        if pop is not None:
            reason = pop.message.get("routing_reason")
            localized_reason = pop.message.get("routing_reason_localized")
        else:
            reason, localized_reason = self._reason(event.linkedid, None)
        message: dict[str, Any] = {
            "type": "call_answered",
            "linkedid": event.linkedid,
            "caller_number": event.caller_number,
            "caller_number_display": self._display(event.caller_number),
            "caller_name": event.caller_name,
            "queue": event.queue,
            "agent_interface": event.interface,
            "agent_name": event.agent_name,
            "answered_at": iso(event.at),
            "contact": card.get("contact") if card else None,
            "routing_reason": reason,
            "card": card,
            "routing_reason_localized": localized_reason,
        }
        self._answered[event.linkedid] = (event.agent, message)
        self._remember(event.linkedid, users)
        if pop is not None:
            spelled = pop.spelled | spelled
        self._send(users | (pop.users if pop else set()), message, spelled)
        self.hub.to_followers(message, except_users=users)

    def _call_transferred(self, event: d.CallTransferred) -> None:
        """A transfer: the agent who took the call over is on it now, and their panel gets
        it as a `call_answered` (with the card and `transferred_from`)."""
        previous = self._answered.get(event.linkedid)
        if previous is None:
            return
        users, spelled = self._audience(event.to_agent)
        agent = self._live_agent(event.to_agent)
        card = self._cards.get(event.linkedid) or previous[1].get("card")
        message: dict[str, Any] = {
            **previous[1],
            "agent_interface": event.to_agent,
            "agent_name": agent.name if agent is not None else None,
            "answered_at": iso(event.at),
            "contact": card.get("contact") if card else previous[1].get("contact"),
            "card": card,
            "transferred_from": event.from_agent,
        }
        self._answered[event.linkedid] = (event.to_agent, message)
        self._remember(event.linkedid, users)
        self._send(users, message, spelled)
        self.hub.to_followers(message, except_users=users)
        if event.from_agent:
            handed, spelled_from = self._audience(event.from_agent)
            handed -= users
            if handed:
                self._send(
                    handed,
                    {
                        "type": "call_transferred",
                        "linkedid": event.linkedid,
                        "agent_interface": event.from_agent,
                        "to_agent": event.to_agent,
                        "to_agent_name": message["agent_name"],
                        "at": iso(event.at),
                    },
                    spelled_from,
                )

    def _call_ended(self, event: d.CallEnded) -> None:
        record = event.record
        linkedid = record.linkedid
        agents = {interface_key(a) for a in record.agents}
        if record.agent_interface:
            agents.add(interface_key(record.agent_interface))
        users: set[int] = set()
        for agent in agents:
            users |= self.users_for(agent)
        message = {
            "type": "call_ended",
            "linkedid": linkedid,
            "disposition": record.disposition.value,
            "caller_number": record.caller_number,
            "caller_name": record.caller_name,
            "called_number": record.called_number,
            "direction": record.direction.value,
            "talk_seconds": round(record.talk_seconds, 1),
            "ended_at": iso(record.ended_at),
            "contact_id": record.contact_id,
        }
        self._remember(linkedid, users)
        self.hub.to_users(users, message)
        self._forget(linkedid)

    def _forget(self, linkedid: str) -> None:
        """Drop what the pop keeps of a call that is over."""
        self._answered.pop(linkedid, None)
        for key in [k for k in self._pops if k[0] == linkedid]:
            del self._pops[key]
        self._cards.pop(linkedid, None)
        self._card_numbers.pop(linkedid, None)
        task = self._loading.pop(linkedid, None)
        if task is not None:
            task.cancel()

    def _agent_state(self, event: d.AgentStateChanged) -> None:
        users, spelled = self._audience(event.agent)
        if not users:
            return
        message = {
            "type": "agent_state",
            "agent_interface": event.agent,
            "state": event.state,
            "since": iso(event.at),
            "paused_reason": event.paused_reason,
            "pause_pending": event.pause_pending,
        }
        self._send(users, message, spelled)

    def _display(self, number: str | None) -> str | None:
        if not number or self.phone_display is None or not number.startswith("+"):
            return number
        shown = self._displays.get(number)
        if shown is None:
            if len(self._displays) >= DISPLAY_CACHE:
                self._displays.clear()
            shown = self._displays[number] = self.phone_display(number)
        return shown

    def _remember(self, linkedid: str, users: set[int]) -> None:
        known = self._recent.get(linkedid)
        if known is None:
            self._recent[linkedid] = set(users)
            while len(self._recent) > RECENT_CALLS:
                self._recent.popitem(last=False)
        else:
            known |= users

    def participants(self, linkedid: str) -> set[int]:
        """Users who answered or were on this call (recent calls, ringing or not)."""
        users = set(self._recent.get(linkedid, ()))
        if self.relayed is not None:
            users |= self.relayed.participants(linkedid)
        return users

    def current_call(self, user_id: int) -> dict[str, Any] | None:
        """The `call_answered` message of the call this user is on now, if any."""
        agents = self.directory.agents_of(user_id)
        for agent_key, message in list(self._answered.values()):
            if self._is_one_of(agent_key, agents):
                return self._known_by(user_id, message, self._audience(agent_key)[1])
        return self.relayed.current_call(user_id) if self.relayed is not None else None

    def users_for(self, agent: str) -> set[int]:
        """The users of an agent, whichever of its names they were configured with: a
        FreePBX queue's member `Local/201@from-queue/n` is the phone `PJSIP/201` too."""
        return self._audience(agent)[0]

    def _audience(self, agent: str) -> tuple[set[int], dict[int, str]]:
        """The users of an agent by any of its names, and for those who know it by an
        alias only (the phone behind a queue member), that name."""
        users: set[int] = set()
        spelled: dict[int, str] = {}
        for i, name in enumerate(self.live.names_of(agent)):
            found = self.directory.users_for(name)
            if i:
                spelled.update(dict.fromkeys(found - users, name))
            users |= found
        return users, spelled

    def _send(self, users: set[int], message: dict[str, Any], spelled: dict[int, str]) -> None:
        """Send a message about an agent; a user who knows the agent by another name gets
        it under that name (the panel shows only messages about its user's own phones)."""
        plain = users - spelled.keys()
        if plain:
            self.hub.to_users(plain, message)
        by_name: dict[str, set[int]] = {}
        for user in users - plain:
            by_name.setdefault(spelled[user], set()).add(user)
        for name, group in by_name.items():
            self.hub.to_users(group, {**message, "agent_interface": name})

    @staticmethod
    def _known_by(user: int, message: dict[str, Any], spelled: dict[int, str]) -> dict[str, Any]:
        name = spelled.get(user)
        return message if name is None else {**message, "agent_interface": name}

    def _is_one_of(self, agent: str, interfaces: set[str]) -> bool:
        """Is this agent (by any of its names) one of a user's interfaces?"""
        return any(same_agent(n, i) for n in self.live.names_of(agent) for i in interfaces)

    def _live_agent(self, key: str) -> Any:
        agent = self.live.agent_for(key)
        if agent is None:
            wanted = agent_identity.agent_key(key)
            agent = next((a for k, a in self.live.agents.items() if k.lower() == wanted), None)
        return agent

    # --- a (re)connecting socket -----------------------------------------------------
    def welcome(self, client: Client) -> None:
        """Send a new socket the current state: agent states, ringing pops, the current call."""
        now = self.clock()
        agents = self.directory.agents_of(client.user_id)
        relayed = self.relayed.agent_states(client.user_id) if self.relayed is not None else {}
        for agent_key in sorted(agents):
            agent = self._live_agent(agent_key)
            if agent is None and any(same_agent(agent_key, known) for known in relayed):
                continue  # another node follows this agent: its last word comes below
            state = agent.derive_state(now).value if agent else "logged_out"
            since = agent.state_since if agent and agent.state_since else now
            self.hub.to_client(
                client,
                {
                    "type": "agent_state",
                    "agent_interface": agent_key,
                    "state": state,
                    "since": iso(since),
                    "paused_reason": agent.paused_reason if agent else None,
                    "pause_pending": agent.pause_pending if agent else False,
                },
            )
        for pop in list(self._pops.values()):
            if client.user_id in pop.users or client.follow_all:
                self.hub.to_client(client, self._known_by(client.user_id, pop.message, pop.spelled))
        for agent_key, message in list(self._answered.values()):
            if client.follow_all or self._is_one_of(agent_key, agents):
                spelled = self._audience(agent_key)[1]
                self.hub.to_client(client, self._known_by(client.user_id, message, spelled))
        if self.relayed is not None:
            for message in self.relayed.welcome(client.user_id, follow_all=client.follow_all):
                if message.get("type") == "agent_state" and self._live_agent(
                    str(message.get("agent_interface"))
                ):
                    continue  # this node follows the agent itself (sent above)
                self.hub.to_client(client, message)

    def snapshot(self) -> list[tuple[set[int], dict[str, Any]]]:
        """Every agent's state, ringing pop and answered call, with the users each goes
        to (as the users know the agent): what another node of a cluster needs to
        welcome its sockets after it (re)joined."""
        now = self.clock()
        out: list[tuple[set[int], dict[str, Any]]] = []
        for agent in list(self.live.agents.values()):
            users, spelled = self._audience(agent.key)
            if not users:
                continue
            message = {
                "type": "agent_state",
                "agent_interface": agent.key,
                "state": agent.derive_state(now).value,
                "since": iso(agent.state_since or now),
                "paused_reason": agent.paused_reason,
                "pause_pending": agent.pause_pending,
            }
            out += [({u}, self._known_by(u, message, spelled)) for u in users]
        for pop in list(self._pops.values()):
            out += [({u}, self._known_by(u, pop.message, pop.spelled)) for u in pop.users]
        for agent_key, message in list(self._answered.values()):
            users, spelled = self._audience(agent_key)
            out += [({u}, self._known_by(u, message, spelled)) for u in users]
        return out
