"""Screen pops over a real WebSocket: the trace's events reach the right agent, withdrawals,
reconnects that pop again, slow clients dropped without slowing the others."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import replace
from typing import Any

import pytest
import websockets
from fastapi import WebSocket

from kernel.agents import same_agent
from routing.decision import Reason, ReasonKey
from screenpop.hub import Client, Hub
from screenpop.notifier import Notifier, StaticDirectory
from telephony import domain as d
from telephony.pipeline import EventPipeline
from telephony.reducer import CallState
from telephony.replay import load_index
from tests.kit_server import LiveServer
from tests.kit_traces import TRACES
from trubka.app import build_app
from trubka.settings import load_settings
from web.ws import SocketUser

USERS = {
    "agent101": SocketUser(1, "agent"),
    "agent102": SocketUser(2, "agent"),
    "boss": SocketUser(9, "supervisor"),
}
DIRECTORY = {"Local/101@agents": {1}, "Local/102@agents": {2}, "Local/103@agents": {3}}


async def cookie_auth(websocket: WebSocket) -> SocketUser | None:
    return USERS.get(websocket.cookies.get("session", ""))


def trace_events(name: str) -> list[d.DomainEvent]:
    path = TRACES / name
    data = path.read_bytes()
    index = load_index(path)
    assert index
    pipeline = EventPipeline()
    events: list[d.DomainEvent] = []
    for at, offset, length in index:
        events += pipeline.feed(data[offset : offset + length], at)
    return events


class Recorder:
    """Collects what a fake socket sends; `wait_for` awaits a condition on it."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.changed = asyncio.Condition()

    async def add(self, item: Any) -> None:
        async with self.changed:
            self.items.append(item)
            self.changed.notify_all()

    async def wait_for(self, predicate: Any) -> None:
        async with asyncio.timeout(5.0), self.changed:
            await self.changed.wait_for(lambda: predicate(self.items))


class Cards:
    def __init__(self) -> None:
        self.asked: list[str | None] = []
        self.release = asyncio.Event()

    async def card_for(self, number: str | None) -> dict[str, Any] | None:
        self.asked.append(number)
        await self.release.wait()
        return {"contact": {"id": 7, "name": "Клиент <script>"}, "open_tasks": []}


@pytest.fixture
async def app_server(tmp_path, sqlite_template):  # type: ignore[no-untyped-def]
    shutil.copy(sqlite_template, tmp_path / "t.db")  # migrated already
    app = build_app(load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db"))
    services = app.state.services
    services.ws_authenticate = cookie_auth
    services.notifier.directory = StaticDirectory(dict(DIRECTORY))
    async with LiveServer(app) as server:
        yield server, services


async def recv(ws: Any, kind: str | None = None) -> dict[str, Any]:
    async with asyncio.timeout(5.0):
        while True:
            message = json.loads(await ws.recv())
            if kind is None or message["type"] == kind:
                return dict(message)


def ws_url(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://") + "/ws"


async def test_unauthenticated_socket_is_refused(app_server) -> None:  # type: ignore[no-untyped-def]
    server, _ = app_server
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(ws_url(server)):
            pass


async def test_pop_answer_and_end_reach_only_the_ringing_agent(app_server) -> None:  # type: ignore[no-untyped-def]
    server, services = app_server
    events = trace_events("01-queue-answered.ami")
    async with (
        websockets.connect(
            ws_url(server), additional_headers={"Cookie": "session=agent101"}
        ) as a101,
        websockets.connect(
            ws_url(server), additional_headers={"Cookie": "session=agent102"}
        ) as a102,
        websockets.connect(ws_url(server), additional_headers={"Cookie": "session=boss"}) as boss,
    ):
        hello = await recv(a101, "agent_state")
        assert hello["agent_interface"] == "Local/101@agents"
        services.bus.publish(events)
        pop = await recv(a101, "screen_pop")
        assert pop["linkedid"] == "1795717766.0"
        assert pop["caller_number"] == "+79160000001"
        assert pop["caller_name"] == "Customer 79160000001"
        assert pop["queue"] == "support"
        assert {"contact", "routing_reason"} <= set(pop)
        answered = await recv(a101, "call_answered")
        assert answered["agent_interface"] == "Local/101@agents/n"
        ended = await recv(a101, "call_ended")
        assert ended["disposition"] == "answered"
        seen_by_boss = await recv(boss, "screen_pop")
        assert seen_by_boss["linkedid"] == "1795717766.0"
        # Agent 102 got nothing of this call: everything before its pong is its own state.
        await a102.send(json.dumps({"type": "ping"}))
        seen = []
        while (message := await recv(a102))["type"] != "pong":
            seen.append(message)
        assert {m["type"] for m in seen} <= {"agent_state"}
        assert all(m["agent_interface"] == "Local/102@agents" for m in seen)


async def test_withdrawn_when_the_caller_hangs_up_and_reconnect_pops_again(app_server) -> None:  # type: ignore[no-untyped-def]
    server, services = app_server
    events = trace_events("02-queue-abandoned-ringing.ami")
    # Stop right after agent 101 starts ringing (the third ring of this call).
    third = [i for i, e in enumerate(events) if isinstance(e, d.AgentRinging)][2]
    async with websockets.connect(
        ws_url(server), additional_headers={"Cookie": "session=agent101"}
    ) as ws:
        services.bus.publish(events[: third + 1])
        pop = await recv(ws, "screen_pop")
        assert pop["agent_interface"] == "Local/101@agents/n"
    # The browser reconnects while the phone still rings: the card pops again at once.
    async with websockets.connect(
        ws_url(server), additional_headers={"Cookie": "session=agent101"}
    ) as ws:
        again = await recv(ws, "screen_pop")
        assert again["linkedid"] == pop["linkedid"]
        services.bus.publish(events[third + 1 :])
        withdrawn = await recv(ws, "screen_pop_withdrawn")
        assert withdrawn == {
            "type": "screen_pop_withdrawn",
            "linkedid": "1795717785.4",
            "reason": "caller_hung_up",
        }


async def test_card_prepared_on_arrival_then_updates_the_pop() -> None:
    hub = Hub()
    recorder = Recorder()
    sent = recorder.items

    async def send(text: str) -> None:
        await recorder.add(json.loads(text))

    async def close(code: int, reason: str) -> None:
        return None

    cards = Cards()
    notifier = Notifier(hub, CallState(), StaticDirectory(dict(DIRECTORY)), cards)
    client = Client(1, "agent", send, close)
    hub.register(client)
    writer = asyncio.create_task(hub.serve(client))
    events = trace_events("01-queue-answered.ami")
    ring_at = next(i for i, e in enumerate(events) if isinstance(e, d.AgentRinging))
    arrived = next(i for i, e in enumerate(events) if isinstance(e, d.CallerIdentified))
    for event in events[: arrived + 1]:
        notifier.handle(event)
    await asyncio.sleep(0)  # let the card task start
    assert cards.asked == ["+79160000001"]  # asked when the call arrived, before anyone rang
    for event in events[arrived + 1 : ring_at + 1]:
        notifier.handle(event)
    cards.release.set()
    await recorder.wait_for(lambda items: len([m for m in items if m["type"] == "screen_pop"]) == 2)
    first, update = [m for m in sent if m["type"] == "screen_pop"]
    assert first["contact"] is None and "update" not in first
    assert update["update"] is True and update["contact"]["name"] == "Клиент <script>"
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    await notifier.stop()


async def test_a_slow_client_is_dropped_and_others_keep_getting_messages() -> None:
    hub = Hub()
    fast = Recorder()
    closed = Recorder()
    stuck = asyncio.Event()

    async def slow_send(text: str) -> None:
        await stuck.wait()

    async def fast_send(text: str) -> None:
        await fast.add(text)

    async def close(code: int, reason: str) -> None:
        await closed.add(code)

    slow_client = Client(1, "agent", slow_send, close)
    fast_client = Client(1, "agent", fast_send, close)
    hub.register(slow_client)
    hub.register(fast_client)
    tasks = [asyncio.create_task(hub.serve(c)) for c in (slow_client, fast_client)]
    for i in range(400):
        hub.to_users([1], {"type": "x", "i": i})
        await asyncio.sleep(0)
    await fast.wait_for(lambda items: len(items) == 400)
    await closed.wait_for(bool)
    assert slow_client.dropped and not fast_client.dropped
    assert closed.items == [4008]
    assert hub.clients_of(1) == {fast_client}
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_pop_says_why_in_every_language() -> None:
    """The routing decision's structured reason (the router's memo) is rendered for each
    page language; a reason only the PBX reported is shown as it said in every one."""
    why = Reason(
        ReasonKey.MANAGER_BUSY_WAIT,
        {"agent": "Анна", "role": "owner", "state": "wrap_up", "seconds": 25},
    )
    asked: list[tuple[str, str | None]] = []

    def lookup(linkedid: str, said_as: str | None) -> Reason | None:
        asked.append((linkedid, said_as))
        return (
            why
            if said_as in (None, "owner Анна is in wrap-up: wait up to 25 s, then queue")
            else None
        )

    hub = Hub()
    recorder = Recorder()

    async def send(text: str) -> None:
        await recorder.add(json.loads(text))

    async def close(code: int, reason: str) -> None:
        return None

    client = Client(1, "agent", send, close)
    hub.register(client)
    writer = asyncio.create_task(hub.serve(client))
    events = trace_events("01-queue-answered.ami")
    said_by_pbx = "sent by the night script"
    for script in (None, said_by_pbx):
        notifier = Notifier(hub, CallState(), StaticDirectory(dict(DIRECTORY)), None, lookup)
        for event in events:
            if isinstance(event, d.AgentRinging):
                event = replace(event, routing_reason=script)
            notifier.handle(event)
        await notifier.stop()
    await recorder.wait_for(
        lambda items: len([m for m in items if m["type"] == "call_answered"]) == 2
    )
    pops = [m for m in recorder.items if m["type"] == "screen_pop"]
    answers = [m for m in recorder.items if m["type"] == "call_answered"]
    english = "owner Анна is in wrap-up: wait up to 25 s, then queue"
    russian = "ответственный Анна на постобработке: ждём до 25 с, затем очередь"
    assert [
        (m["routing_reason"], m["routing_reason_localized"]) for m in (pops[0], answers[0])
    ] == [(english, {"en": english, "ru": russian})] * 2
    assert [
        (m["routing_reason"], m["routing_reason_localized"]) for m in (pops[1], answers[1])
    ] == [(said_by_pbx, {"en": said_by_pbx, "ru": said_by_pbx})] * 2
    assert ("1795717766.0", said_by_pbx) in asked
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)


FREEPBX_PHONES = {"PJSIP/201": {1}, "PJSIP/202": {2}, "PJSIP/203": {3}}
FREEPBX_MEMBERS = {
    "Local/201@from-queue/n": {1},
    "Local/202@from-queue/n": {2},
    "Local/203@from-queue/n": {3},
}


class Agents:
    """One recording socket per user (1, 2, 3) on a hub."""

    def __init__(self, hub: Hub) -> None:
        self.seen = {user: Recorder() for user in (1, 2, 3)}
        self.tasks = []
        for user, recorder in self.seen.items():

            async def send(text: str, recorder: Recorder = recorder) -> None:
                await recorder.add(json.loads(text))

            async def close(code: int, reason: str) -> None:
                return None

            client = Client(user, "agent", send, close)
            hub.register(client)
            self.tasks.append(asyncio.create_task(hub.serve(client)))

    def calls(self, user: int) -> list[tuple[str, Any]]:
        """What the user got about calls (agent states left out)."""
        return [
            (m["type"], m.get("reason"))
            for m in self.seen[user].items
            if m["type"] != "agent_state"
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.mark.parametrize("users", [FREEPBX_PHONES, FREEPBX_MEMBERS], ids=["phones", "members"])
async def test_freepbx_member_that_answers_gets_its_pop_and_answer(users) -> None:  # type: ignore[no-untyped-def]
    """Issue 16, item 8: queue 400 rings the member `Local/201@from-queue/n`, whose Local
    channel dials the phone `PJSIP/201`, which answers. Users configured by their phones
    or by the members get the same: 201's user the pop, the answer and the end; no one
    else anything. Events reach the notifier chunk by chunk, as live."""
    path = TRACES / "lab" / "f1-fpbx-queue-answered-201.ami"
    data = path.read_bytes()
    pipeline = EventPipeline()
    hub = Hub()
    agents = Agents(hub)
    notifier = Notifier(hub, pipeline.state, StaticDirectory(dict(users)))
    for at, offset, length in load_index(path):
        for event in pipeline.feed(data[offset : offset + length], at):
            notifier.handle(event)
    await agents.seen[1].wait_for(lambda items: any(m["type"] == "call_ended" for m in items))
    assert agents.calls(1) == [("screen_pop", None), ("call_answered", None), ("call_ended", None)]
    pop, answered = (
        m for m in agents.seen[1].items if m["type"] in ("screen_pop", "call_answered")
    )
    assert pop["linkedid"] == answered["linkedid"] == "1796521416.0"
    # Each under the name its user knows the agent by: the panel shows only those.
    (mine,) = [name for name, ids in users.items() if ids == {1}]
    named = [m for m in agents.seen[1].items if "agent_interface" in m]
    assert {m["type"] for m in named} >= {"screen_pop", "call_answered", "agent_state"}
    assert all(same_agent(m["agent_interface"], mine) for m in named)
    assert agents.calls(2) == agents.calls(3) == []
    assert notifier.participants("1796521416.0") == {1}
    await agents.stop()
    await notifier.stop()


@pytest.mark.parametrize("users", [FREEPBX_PHONES, FREEPBX_MEMBERS], ids=["phones", "members"])
async def test_freepbx_ring_all_pops_everyone_and_withdraws_from_the_others(users) -> None:  # type: ignore[no-untyped-def]
    """A ring-all queue (401) of FreePBX members: the state knows each member's phone
    (QueueStatus at connect says `StateInterface: PJSIP/20x`). Every user gets the pop;
    the one who answers gets `call_answered`, the others a withdrawal."""
    live = CallState()
    for n in (201, 202, 203):
        live.aliases[f"PJSIP/{n}"] = f"Local/{n}@from-queue"
    hub = Hub()
    agents = Agents(hub)
    notifier = Notifier(hub, live, StaticDirectory(dict(users)))
    linkedid, number = "1796521500.0", "+74951110101"
    for n in (201, 202, 203):
        notifier.handle(
            d.AgentRinging(
                linkedid, 1.0, f"Local/{n}@from-queue", f"Local/{n}@from-queue/n",
                f"Agent {n}", "401", number, None, None, "inbound",
            )
        )  # fmt: skip
    notifier.handle(
        d.CallAnswered(
            linkedid, 3.0, "Local/202@from-queue", "Local/202@from-queue/n", "Agent 202",
            "401", number, None,
        )
    )  # fmt: skip
    for n in (201, 203):
        notifier.handle(
            d.AgentRingEnded(linkedid, 3.0, f"Local/{n}@from-queue", "answered_elsewhere")
        )
    for user in (1, 2, 3):
        await agents.seen[user].wait_for(lambda items: len(items) == 2)
    assert agents.calls(2) == [("screen_pop", None), ("call_answered", None)]
    for user in (1, 3):
        assert agents.calls(user) == [
            ("screen_pop", None),
            ("screen_pop_withdrawn", "answered_elsewhere"),
        ]
    for user in (1, 2):
        (mine,) = [interface for interface, ids in users.items() if ids == {user}]
        named = [m for m in agents.seen[user].items if "agent_interface" in m]
        assert named and all(same_agent(m["agent_interface"], mine) for m in named)
    answered = notifier.current_call(2)
    assert answered is not None
    assert same_agent(answered["agent_interface"], next(i for i, u in users.items() if u == {2}))
    assert notifier.current_call(1) is None
    await agents.stop()
    await notifier.stop()


@pytest.mark.parametrize("users", [FREEPBX_PHONES, FREEPBX_MEMBERS], ids=["phones", "members"])
async def test_freepbx_pop_withdrawn_because_the_caller_hung_up(users) -> None:  # type: ignore[no-untyped-def]
    """Queue 400 rings `Local/202@from-queue/n` (the phone `PJSIP/202`); the caller on the
    trunk hangs up first. Asterisk cancels the dial (`DialEnd CANCEL`) before the caller's
    `Hangup`; its `HangupRequest` came first, so the pop is withdrawn because the caller
    hung up, not because nobody answered."""
    path = TRACES / "lab" / "f4-fpbx-abandon-ringing.ami"
    data = path.read_bytes()
    pipeline = EventPipeline()
    hub = Hub()
    agents = Agents(hub)
    notifier = Notifier(hub, pipeline.state, StaticDirectory(dict(users)))
    for at, offset, length in load_index(path):
        for event in pipeline.feed(data[offset : offset + length], at):
            notifier.handle(event)
    await agents.seen[2].wait_for(
        lambda items: any(m["type"] == "screen_pop_withdrawn" for m in items)
    )
    assert agents.calls(2)[:2] == [
        ("screen_pop", None),
        ("screen_pop_withdrawn", "caller_hung_up"),
    ]
    assert agents.calls(1) == agents.calls(3) == []
    await agents.stop()
    await notifier.stop()
