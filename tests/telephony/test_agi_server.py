"""The FastAGI server over real TCP, with Asterisk played by a raw socket client.

Each routing rule runs against a live-state picture from the real traces; bad input
(missing, anonymous, garbage or enormous caller IDs, quotes and newlines, clients that
disconnect or stall) gets a queue decision or a clean, logged close — never a crash or
a stuck task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from routing.facts import AgentRef, RoutingFacts
from routing.rules import RoutingRules, parse_rules
from routing.source import InMemoryFactsSource
from telephony.agi_server import AgiServer, Outcome
from telephony.reducer import CallState
from telephony.router import CallRouter
from tests.routing.kit_pictures import (
    A101,
    A102,
    A103,
    A104,
    Picture,
    all_free,
    feed_until,
    logged_out_104,
    paused_104,
    ringing_102,
    talking_101,
    talking_101_free_103,
)
from tests.telephony.kit_fake_asterisk import Session, call, environment, trace_environments

CALLER = "79161234567"  # trace 03's caller
E164 = "+79161234567"
IVANOVA = AgentRef(1, "Ivanova", (A101,))
PETROV = AgentRef(2, "Petrov", (A103,))
SIDOROV = AgentRef(3, "Sidorov", (A102,))
KOZLOVA = AgentRef(4, "Kozlova", (A104,))


def facts(
    picture: Picture, last: AgentRef | None = IVANOVA, owner: AgentRef | None = PETROV, **extra: Any
) -> RoutingFacts:
    at = datetime.fromtimestamp(picture.at, UTC)
    values: dict[str, Any] = dict(
        contact_id=4242,
        contact_name="Иван Петров",
        owner=owner,
        last_agent=last,
        last_talked_at=at - timedelta(days=3) if last else None,
    )
    values.update(extra)
    return RoutingFacts(**values)


class Harness:
    def __init__(
        self,
        picture: Picture | None,
        facts: dict[str, RoutingFacts],
        rules: RoutingRules | None = None,
        source: Any = None,
        **server: Any,
    ) -> None:
        state = picture.state if picture else CallState()
        at = picture.at if picture else 1795717820.0
        self.source = source if source is not None else InMemoryFactsSource(facts)
        self.router = CallRouter(
            self.source, state, rules or RoutingRules(), facts_timeout=0.2, clock=lambda: at
        )
        options = {"env_timeout": 0.5, "session_timeout": 2.0} | server
        self.server = AgiServer(self.router, "127.0.0.1", 0, **options)

    async def __aenter__(self) -> Harness:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()
        assert self.server.stats.active == 0
        assert not self.server._sessions

    @property
    def port(self) -> int:
        return self.server.bound_port

    async def call(self, env: bytes | None = None, **kwargs: Any) -> Session:
        return await call(self.port, env if env is not None else environment(), **kwargs)

    async def settled(self) -> None:
        """Wait until every session the server accepted has ended."""
        async with asyncio.timeout(3):
            while self.server._sessions:
                await asyncio.wait(set(self.server._sessions))


ROUTE_ORDER = [
    "ROUTE_BY",
    "ROUTE_REASON",
    "TRUBKA_CONTACT_ID",
    "CALLERID(name)",
    "ROUTE_QUEUE",
    "ROUTE_TIMEOUT",
    "ROUTE_AGENT",
]


async def test_routes_a_known_caller_to_the_free_previous_manager() -> None:
    picture = all_free()
    async with Harness(picture, {E164: facts(picture)}) as h:
        session = await h.call()
    assert session.closed_by_server
    assert (
        session.order == ROUTE_ORDER
    )  # ROUTE_BY and ROUTE_REASON before ROUTE_AGENT, which is last
    assert session.variables == {
        "ROUTE_BY": "previous-manager",
        "ROUTE_REASON": "Ivanova: talked 3 days ago",
        "TRUBKA_CONTACT_ID": "4242",
        "CALLERID(name)": "Иван Петров",
        "ROUTE_QUEUE": "support",
        "ROUTE_TIMEOUT": "20",
        "ROUTE_AGENT": A101,
    }
    assert h.server.stats.outcomes == {Outcome.ROUTED: 1}
    assert h.router.memo.get("1795717820.15") is not None


@pytest.mark.parametrize(
    ("picture_of", "last", "owner", "routed_by", "agent", "reason"),
    [
        (talking_101_free_103, IVANOVA, PETROV, "owner", A103, "owner Petrov: responsible manager"),
        (
            talking_101,
            IVANOVA,
            KOZLOVA,
            "queue",
            "",
            "Ivanova is on a call, owner Kozlova is not logged in → queue",
        ),
        (ringing_102, SIDOROV, None, "queue", "", "Sidorov is ringing for another call → queue"),
        (paused_104, KOZLOVA, None, "queue", "", "Kozlova is paused → queue"),
        (logged_out_104, KOZLOVA, IVANOVA, "owner", A101, "owner Ivanova: responsible manager"),
    ],
    ids=["busy-then-owner", "busy", "ringing", "paused", "logged-out"],
)
async def test_live_state_pictures(
    picture_of: Callable[[], Picture],
    last: AgentRef,
    owner: AgentRef | None,
    routed_by: str,
    agent: str,
    reason: str,
) -> None:
    picture = picture_of()
    async with Harness(picture, {E164: facts(picture, last, owner)}) as h:
        session = await h.call()
    assert session.variables["ROUTE_BY"] == routed_by
    assert session.variables["ROUTE_AGENT"] == agent
    assert session.variables["ROUTE_REASON"] == reason
    assert session.order[-1] == "ROUTE_AGENT"
    assert ("ROUTE_TIMEOUT" in session.variables) is bool(agent)


async def test_wait_for_a_busy_manager_sets_route_wait() -> None:
    picture = talking_101()
    rules = parse_rules({"when_busy": "wait", "wait_seconds": 30})
    async with Harness(picture, {E164: facts(picture, owner=None)}, rules) as h:
        session = await h.call()
    assert session.variables["ROUTE_WAIT"] == "30"
    assert session.variables["ROUTE_AGENT"] == A101
    assert session.order[-3:] == ["ROUTE_WAIT", "ROUTE_TIMEOUT", "ROUTE_AGENT"]


async def test_vip_priority_and_the_lines_queue_from_the_did() -> None:
    picture = talking_101()
    rules = parse_rules({"vip": {"vip": 10}, "dids": {"+74951110000": {"queue": "sales"}}})
    env = environment(agi_arg_1=None, agi_dnid="84951110000")
    async with Harness(
        picture, {E164: facts(picture, owner=None, tags=frozenset({"VIP"}))}, rules
    ) as h:
        session = await h.call(env)
    assert session.variables["QUEUE_PRIO"] == "10"
    assert session.variables["ROUTE_QUEUE"] == "sales"
    assert session.variables["ROUTE_BY"] == "vip"
    assert session.variables["ROUTE_AGENT"] == ""


async def test_the_did_comes_from_arg_then_dnid_then_extension() -> None:
    rules = parse_rules(
        {"dids": {"+74951110000": {"queue": "sales"}, "+74952220000": {"queue": "vip"}}}
    )
    async with Harness(None, {}, rules) as h:
        by_arg = await h.call(environment(agi_arg_1="84951110000", agi_dnid="84952220000"))
        by_dnid = await h.call(
            environment(agi_arg_1=None, agi_dnid="84952220000", agi_extension="84951110000")
        )
        by_exten = await h.call(
            environment(agi_arg_1=None, agi_dnid="unknown", agi_extension="84951110000")
        )
    assert [s.variables["ROUTE_QUEUE"] for s in (by_arg, by_dnid, by_exten)] == [
        "sales",
        "vip",
        "sales",
    ]


async def test_after_hours_goto() -> None:
    picture = all_free()  # 2026-11-26 (Thursday) evening UTC
    rules = parse_rules(
        {
            "hours": {"timezone": "Asia/Tokyo", "sat": "10:00-12:00"},
            "after_hours": {"action": "goto", "goto": "voicemail,s,1"},
        }
    )
    async with Harness(picture, {E164: facts(picture)}, rules) as h:
        session = await h.call()
    assert session.variables["ROUTE_BY"] == "after-hours"
    assert session.variables["ROUTE_GOTO"] == "voicemail,s,1"
    assert session.variables["ROUTE_AGENT"] == ""


@pytest.mark.parametrize("trace", ["01-queue-answered", "05-load-20-calls", "08-cyrillic-callerid"])
async def test_real_environments_of_unknown_callers_go_to_the_queue(trace: str) -> None:
    async with Harness(all_free(), {}) as h:
        sessions = await asyncio.gather(*(h.call(env) for env in trace_environments(trace)))
    for session in sessions:
        assert session.variables["ROUTE_BY"] == "unknown-caller"
        assert session.variables["ROUTE_AGENT"] == ""
        assert session.variables["ROUTE_REASON"].endswith("is not in the CRM → queue")
    assert h.server.stats.outcomes[Outcome.ROUTED] == len(sessions)


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("callerid", "reason"),
    [
        (None, "no caller ID → queue"),
        ("", "no caller ID → queue"),
        ("anonymous", "no caller ID → queue"),
        ("unknown", "no caller ID → queue"),
        ("Restricted", "no caller ID → queue"),
        ("<script>\"'", "caller ID <script>\"' is not a phone number → queue"),
        ("12", "caller ID 12 is not a phone number → queue"),
        ("7" * 5000, "is not a phone number → queue"),
        ("\x00\x01\x02", "no caller ID → queue"),
    ],
    ids=[
        "missing",
        "empty",
        "anonymous",
        "unknown",
        "restricted",
        "garbage",
        "short",
        "enormous",
        "control",
    ],
)
async def test_unusable_caller_ids_get_a_queue_decision(callerid: str | None, reason: str) -> None:
    picture = all_free()
    async with Harness(picture, {E164: facts(picture)}) as h:
        session = await h.call(environment(agi_callerid=callerid))  # type: ignore[arg-type]
    assert session.variables["ROUTE_BY"] == "unknown-caller"
    assert session.variables["ROUTE_AGENT"] == ""
    assert session.variables["ROUTE_REASON"].endswith(reason)
    assert "\n" not in session.variables["ROUTE_REASON"]


async def test_an_enormous_environment_line_is_cut_and_still_routed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = environment(agi_callerid="8" * 50_000)
    async with Harness(all_free(), {}) as h:
        session = await h.call(env)
    assert session.variables["ROUTE_BY"] == "unknown-caller"
    assert "over-long agi_callerid" in caplog.text


async def test_quotes_newlines_and_control_characters_in_crm_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    picture = all_free()
    evil = AgentRef(1, 'Iva"nova\nROUTE_AGENT: x', (A101,))
    f = facts(
        picture, last=evil, owner=None, contact_name='Иван "Ваня"\r\nSET VARIABLE X y\\ \u202e'
    )
    async with Harness(picture, {E164: f}) as h:
        session = await h.call()
    assert session.variables["CALLERID(name)"] == "Иван Ваня SET VARIABLE X y"
    assert session.variables["ROUTE_REASON"] == 'Iva"nova ROUTE_AGENT: x: talked 3 days ago'
    assert session.variables["ROUTE_AGENT"] == A101
    assert all(len(args) == 4 for args in session.commands)  # every command parsed as one value


async def test_garbage_and_other_scripts_are_closed_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with Harness(all_free(), {}) as h:
        http = await call(h.port, b"GET /route HTTP/1.1\r\nHost: x\r\n\r\n")
        other = await h.call(
            environment(agi_network_script="admin", agi_request="agi://127.0.0.1:4573/admin")
        )
        binary = await call(h.port, bytes(range(256)) * 4)
        await h.settled()
    for session in (http, other, binary):
        assert session.closed_by_server and session.commands == []
    assert h.server.stats.outcomes == {Outcome.PROTOCOL: 2, Outcome.UNKNOWN_SCRIPT: 1}
    assert "unknown script 'admin'" in caplog.text
    assert "broke the protocol" in caplog.text


async def test_a_client_that_disconnects_mid_environment(caplog: pytest.LogCaptureFixture) -> None:
    async with Harness(all_free(), {}) as h:
        _, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.write(environment()[:100])
        await writer.drain()
        writer.close()
        await h.settled()
    assert h.server.stats.outcomes == {Outcome.DISCONNECTED: 1}
    assert "disconnected" in caplog.text


async def test_a_client_that_disconnects_after_the_first_command(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Harness(all_free(), {}) as h:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.write(environment())
        first = await reader.readline()
        assert first.startswith(b"SET VARIABLE ROUTE_BY ")
        writer.close()
        await h.settled()
    assert h.server.stats.outcomes == {Outcome.DISCONNECTED: 1}


async def test_a_slow_client_is_closed(caplog: pytest.LogCaptureFixture) -> None:
    async with Harness(all_free(), {}, env_timeout=0.1) as h:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.write(environment()[:50])
        async with asyncio.timeout(2):
            assert await reader.read() == b""  # the server hung up on us
        writer.close()
        await h.settled()
    assert h.server.stats.outcomes == {Outcome.SLOW: 1}
    assert "sent no complete environment" in caplog.text


async def test_a_client_that_never_answers_a_command_is_closed() -> None:
    async with Harness(all_free(), {}, session_timeout=0.2) as h:
        session = await h.call(reply=lambda args: b"")
        await h.settled()
    assert session.closed_by_server and len(session.commands) == 1
    assert h.server.stats.outcomes == {Outcome.SLOW: 1}


async def test_error_replies_do_not_stop_the_routing(caplog: pytest.LogCaptureFixture) -> None:
    def reply(args: list[str]) -> bytes:
        if args[2] == "CALLERID(name)":
            return (
                b"520-Invalid command syntax.  Proper usage follows:\n"
                b" Usage: SET VARIABLE\n"
                b"520 End of proper usage.\n"
            )
        return (
            b"510 Invalid or unknown command\n"
            if args[2] == "TRUBKA_CONTACT_ID"
            else b"200 result=1\n"
        )

    picture = all_free()
    async with Harness(picture, {E164: facts(picture)}) as h:
        session = await h.call(reply=reply)
    assert session.order == ROUTE_ORDER
    assert "SET VARIABLE TRUBKA_CONTACT_ID answered '510" in caplog.text


async def test_hangup_while_routing_ends_the_session() -> None:
    picture = all_free()
    async with Harness(picture, {E164: facts(picture)}) as h:
        session = await h.call(
            reply=lambda args: b"HANGUP\n" if args[2] == "ROUTE_REASON" else b"200 result=1\n"
        )
        await h.settled()
    assert session.order == ["ROUTE_BY", "ROUTE_REASON"]
    assert h.server.stats.outcomes == {Outcome.HANGUP: 1}


async def test_too_many_sessions_are_refused_not_queued() -> None:
    async with Harness(all_free(), {}, max_sessions=1, env_timeout=1.0) as h:
        _, stalled = await asyncio.open_connection("127.0.0.1", h.port)
        stalled.write(b"agi_network: yes\n")
        await stalled.drain()
        async with asyncio.timeout(2):
            while h.server.stats.active < 1:  # noqa: ASYNC110 - no event for "accepted"
                await asyncio.sleep(0.005)
        refused = await h.call()
        assert refused.closed_by_server and refused.commands == []
        stalled.close()
        await h.settled()
    assert h.server.stats.outcomes[Outcome.REJECTED] == 1


# --- the facts deadline ---------------------------------------------------------------


class StalledSource:
    def __init__(self) -> None:
        self.cancelled = 0

    async def lookup(self, e164: str) -> RoutingFacts | None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return None


class BrokenSource:
    async def lookup(self, e164: str) -> RoutingFacts | None:
        raise ConnectionRefusedError("database is down")


async def test_facts_deadline_sends_the_call_to_the_queue(caplog: pytest.LogCaptureFixture) -> None:
    source = StalledSource()
    async with Harness(all_free(), {}, source=source) as h:
        loop = asyncio.get_running_loop()
        started = loop.time()
        session = await h.call()
        elapsed = loop.time() - started
    assert session.variables["ROUTE_BY"] == "facts-timeout"
    assert session.variables["ROUTE_REASON"] == "CRM did not answer in time → queue"
    assert session.variables["ROUTE_AGENT"] == ""
    assert h.router.stats.facts_timeouts == 1 and source.cancelled == 1
    assert 0.2 <= elapsed < 1.0
    assert "not ready in 200 ms" in caplog.text


async def test_a_failing_facts_source_sends_the_call_to_the_queue(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Harness(all_free(), {}, source=BrokenSource()) as h:
        session = await h.call()
    assert session.variables["ROUTE_BY"] == "facts-error"
    assert h.router.stats.facts_errors == 1
    assert "database is down" in caplog.text


async def test_the_facts_source_can_be_swapped_while_running() -> None:
    picture = all_free()
    async with Harness(picture, {}) as h:
        before = await h.call()
        h.router.source = InMemoryFactsSource({E164: facts(picture)})
        after = await h.call()
    assert (before.variables["ROUTE_BY"], after.variables["ROUTE_BY"]) == (
        "unknown-caller",
        "previous-manager",
    )


# --- the screen pop's memo -------------------------------------------------------------


async def test_decision_remembered_by_uniqueid_and_linkedid() -> None:
    # Trace 03 up to the moment the routed call's ;2 channel (which runs the AGI) exists.
    picture = feed_until("03-fastagi-route-to-102", lambda s, at: "1795717820.15" in s.channels)
    async with Harness(picture, {E164: facts(picture, last=SIDOROV, owner=None)}) as h:
        session = await h.call()
    assert session.variables["ROUTE_AGENT"] == ""  # 102 is not a known member yet in trace 03
    decision = h.router.memo.find("1795717820.14")
    assert decision is not None and decision.reason == "Sidorov is not logged in → queue"
    assert h.router.memo.routing_reason(None, ["1795717820.15"]) == decision.reason


async def test_server_stops_with_sessions_running() -> None:
    h = Harness(all_free(), {}, env_timeout=30, session_timeout=60)
    await h.server.start()
    port = h.port
    _, writer = await asyncio.open_connection("127.0.0.1", h.port)
    writer.write(b"agi_network: yes\n")
    await writer.drain()
    async with asyncio.timeout(2):
        while h.server.stats.active < 1:  # noqa: ASYNC110 - no event for "accepted"
            await asyncio.sleep(0.005)
    await h.server.stop(grace=0.1)
    assert h.server.stats.active == 0 and not h.server._sessions
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


# --- talking while Trubka decides --------------------------------------------------------


class GatedSource:
    """Facts that arrive when the test opens the gate (the CRM being slow on purpose)."""

    def __init__(self, facts: RoutingFacts | None = None) -> None:
        self.asked = asyncio.Event()
        self.gate = asyncio.Event()
        self.facts = facts

    async def lookup(self, e164: str) -> RoutingFacts | None:
        self.asked.set()
        await self.gate.wait()
        return self.facts


async def test_a_hangup_sent_while_deciding_ends_the_session_after_one_command() -> None:
    picture = all_free()
    source = GatedSource(facts(picture))
    async with Harness(picture, {}, source=source) as h:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.write(environment())
        await asyncio.wait_for(source.asked.wait(), 2)
        writer.write(b"HANGUP\n")  # the caller hung up while the CRM was asked
        await writer.drain()
        source.gate.set()
        async with asyncio.timeout(2):
            sent = await reader.read()  # everything until the server closes
        writer.close()
        await h.settled()
    assert sent.startswith(b"SET VARIABLE ROUTE_BY ") and sent.count(b"\n") == 1
    assert h.server.stats.outcomes == {Outcome.HANGUP: 1}


async def test_a_client_that_floods_while_deciding_is_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = GatedSource()
    async with Harness(all_free(), {}, source=source) as h:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.write(environment())
        await asyncio.wait_for(source.asked.wait(), 2)
        writer.write(b"x" * 10_000)
        async with asyncio.timeout(2):
            assert await reader.read() == b""
        writer.close()
        await h.settled()
        source.gate.set()
    assert h.server.stats.outcomes == {Outcome.PROTOCOL: 1}
    assert "talked over the routing" in caplog.text


async def test_a_disconnect_while_deciding_cancels_the_lookup() -> None:
    source = StalledSource()
    async with Harness(all_free(), {}, source=source, session_timeout=5.0) as h:
        _, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.write(environment())
        await writer.drain()
        async with asyncio.timeout(2):
            while h.server.stats.active < 1:  # noqa: ASYNC110 - no event for "accepted"
                await asyncio.sleep(0.005)
        writer.close()
        await h.settled()
        async with asyncio.timeout(2):
            while h.server._tasks:
                await asyncio.wait(set(h.server._tasks))
    assert h.server.stats.outcomes == {Outcome.DISCONNECTED: 1}
    assert source.cancelled == 1


async def test_stopping_while_deciding_closes_the_session_and_its_task() -> None:
    source = GatedSource()
    h = Harness(all_free(), {}, source=source)
    await h.server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
    writer.write(environment())
    await asyncio.wait_for(source.asked.wait(), 2)
    await h.server.stop(grace=0.1)
    async with asyncio.timeout(2):
        assert await reader.read() == b""
    writer.close()
    assert h.server.stats.active == 0 and not h.server._sessions and not h.server._tasks
    assert h.server.stats.outcomes == {Outcome.DISCONNECTED: 1}
