"""Routing end to end: the whole app, facts from the real database, Asterisk from traces.

Users with interfaces, contacts, companies, owners and answered calls are stored in the
database (SQLite and PostgreSQL); the live state comes from the real traces fed through
the pipeline (101 talking, 102 free, 103 ringing, 104 paused, later logged out); every
decision is asked over raw FastAGI on TCP. The call of trace 03 then runs with its
FastAGI session answered by the app, and the stored call record carries the decision
(`routed_by`, `routing_reason`, the timeline).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from crm.database import Database
from crm.schemas import CompanyCreate
from kernel.agents import AgentState
from tests.trubka.conftest import A101, A102, A103, A104, PASSWORD, SYSTEM, World, agent_is


async def test_db_facts_and_live_state_decide_over_fastagi(world: World) -> None:
    w = world
    # The live picture, from the real traces: 104 logs in paused (07), 101 answers a
    # queue call (01), the queue rings 102 (no answer) and then 103 (02).
    trace07 = w.pbx.replay("07-queue-member-pause")
    trace07.feed_until(agent_is(A104, AgentState.PAUSED))
    w.pbx.play("01-queue-answered", agent_is(A101, AgentState.ON_CALL))
    w.pbx.play("02-queue-abandoned-ringing", agent_is(A103, AgentState.RINGING))
    assert w.presence() == {
        A101: AgentState.ON_CALL,
        A102: AgentState.AVAILABLE,
        A103: AgentState.RINGING,
        A104: AgentState.PAUSED,
    }

    # Contacts, owners and history in the database.
    await w.contact("Иван Петров", "+79161234567", owner="ivanova", talked=[(A102, 3)])
    owner_free = await w.contact(
        "Ольга Белова", "+79160000101", owner="petrov", talked=[(A101, 2), (A102, 40)]
    )
    await w.contact(
        "Давний Клиент", "+79160000102", owner="kozlova", talked=[(A102, 120), (A101, 200)]
    )
    company = await w.services.crm.companies.create(
        CompanyCreate(name="ООО Вектор", phones=["+74957770000"]), SYSTEM
    )
    colleague = await w.contact(
        "Коллега", "+79160000103", company_id=company["id"], talked=[(A102, 5)]
    )
    newcomer = await w.contact("Новичок", "+79160000104", company_id=company["id"])
    await w.contact("Занятой", "+79160000105", talked=[(A101, 1)])
    await w.contact("Звонил Сидорову", "+79160000106", talked=[(A103, 1)])
    await w.contact("Звонил Козловой", "+79160000107", talked=[(A104, 1)])
    vip = await w.contact("Важный", "+79160000108", tags=["VIP"], talked=[(A101, 1)])

    # Previous manager free: Petrov talked with him 3 days ago (8-format caller ID).
    d = await w.ask("89161234567")
    assert (d["ROUTE_BY"], d["ROUTE_AGENT"], d["ROUTE_TIMEOUT"]) == ("previous-manager", A102, "20")
    assert d["ROUTE_REASON"] == "Петров: talked 3 days ago"
    assert d["CALLERID(name)"] == "Иван Петров"
    # The last agent is on a call, the owner is free.
    d = await w.ask("+79160000101")
    assert (d["ROUTE_BY"], d["ROUTE_AGENT"]) == ("owner", A102)
    assert d["ROUTE_REASON"] == "owner Петров: responsible manager"
    assert d["TRUBKA_CONTACT_ID"] == str(owner_free)
    # Outside the look-back window (120 days > 90), and the owner is paused.
    d = await w.ask("79160000102")
    assert (d["ROUTE_BY"], d["ROUTE_AGENT"]) == ("queue", "")
    assert d["ROUTE_REASON"] == (
        "owner Козлова is paused, Петров: last talked 120 days ago, over 90 days → queue"
    )
    # A colleague's calls identify the company's contacts and its switchboard number.
    for number, contact_id in (("+79160000104", newcomer), ("+74957770000", None)):
        d = await w.ask(number)
        assert (d["ROUTE_BY"], d["ROUTE_AGENT"]) == ("previous-manager", A102), number
        assert d["ROUTE_REASON"] == "Петров: talked 5 days ago"
        assert d.get("TRUBKA_CONTACT_ID") == (str(contact_id) if contact_id else None)
    assert colleague != newcomer
    # Busy, ringing, paused managers: the queue, and why.
    for number, reason in (
        ("+79160000105", "Иванова is on a call → queue"),
        ("+79160000106", "Сидоров is ringing for another call → queue"),
        ("+79160000107", "Козлова is paused → queue"),
    ):
        d = await w.ask(number)
        assert (d["ROUTE_BY"], d["ROUTE_AGENT"], d["ROUTE_REASON"]) == ("queue", "", reason)
    # The line that waits for a busy manager.
    d = await w.ask("+79160000105", did="84951110001")
    assert (d["ROUTE_BY"], d["ROUTE_AGENT"], d["ROUTE_WAIT"]) == ("previous-manager", A101, "25")
    assert d["ROUTE_REASON"] == "Иванова is on a call: wait up to 25 s, then queue"
    # VIP: nobody free, the queue with priority.
    d = await w.ask("+79160000108")
    assert (d["ROUTE_BY"], d["QUEUE_PRIO"], d["ROUTE_AGENT"]) == ("vip", "10", "")
    assert d["TRUBKA_CONTACT_ID"] == str(vip)
    # After hours on the line with no working hours at all: voicemail.
    d = await w.ask("+79161234567", did="+74951110002")
    assert (d["ROUTE_BY"], d["ROUTE_GOTO"], d["ROUTE_AGENT"]) == (
        "after-hours",
        "voicemail,s,1",
        "",
    )
    # Unknown and unusable callers.
    d = await w.ask("+79169999999")
    assert (d["ROUTE_BY"], d["ROUTE_REASON"]) == (
        "unknown-caller",
        "+79169999999 is not in the CRM → queue",
    )
    for caller in ("anonymous", None, "7" * 500, 'x"\\'):
        d = await w.ask(caller)
        assert (d["ROUTE_BY"], d["ROUTE_AGENT"]) == ("unknown-caller", ""), caller

    # 104 is taken out of the queue (the rest of trace 07): logged out.
    trace07.feed_until()
    assert w.presence()[A104] is AgentState.LOGGED_OUT
    d = await w.ask("+79160000107")
    assert (d["ROUTE_BY"], d["ROUTE_REASON"]) == ("queue", "Козлова is not logged in → queue")

    assert w.services.router.stats.facts_timeouts == 0
    assert w.services.router.stats.facts_errors == 0


async def test_a_routed_call_is_stored_with_its_decision(world: World) -> None:
    w = world
    # 102 free (trace 02 to the end: everyone rang, nobody answered), 101 busy (01).
    w.pbx.play("02-queue-abandoned-ringing")
    w.pbx.play("01-queue-answered", agent_is(A101, AgentState.ON_CALL))
    assert w.presence()[A102] is AgentState.AVAILABLE
    contact_id = await w.contact(
        "Иван Петров", "+79161234567", owner="ivanova", talked=[(A102, 3), (A101, 10)]
    )
    # Trace 03: the call asks FastAGI, is routed to 102, who answers; both hang up.
    routed = await w.pbx.call_with_agi(
        "03-fastagi-route-to-102", w.port, env={"agi_arg_1": "74951110000"}
    )
    assert [name for name, _ in routed.inserted] == [
        "ROUTE_BY",
        "ROUTE_REASON",
        "TRUBKA_CONTACT_ID",
        "ROUTE_QUEUE",
        "ROUTE_TIMEOUT",
        "ROUTE_AGENT",
    ]
    assert routed.session.variables["ROUTE_AGENT"] == A102
    async with asyncio.timeout(10):
        await w.services.drain_calls()
    row = await w.services.calls.get(routed.linkedid)
    assert row is not None
    assert row.routed_by == "previous-manager"
    assert row.routing_reason == "Петров: talked 3 days ago"
    # … and its structured reason, for pages in the reader's language.
    assert row.routing_reason_key == "previous_manager_free"
    values = row.routing_reason_values or {}
    assert values["agent"] == "Петров" and 3 * 86400 <= values["ago"] < 4 * 86400
    assert row.disposition == "answered"
    assert (row.agent_interface or "").startswith("Local/102@agents")
    assert row.contact_id == contact_id
    steps = [(step["kind"], step["detail"]) for step in row.timeline]
    assert ("routing-decision", "previous-manager: Петров: talked 3 days ago") in steps
    assert ("routed", A102) in steps
    kinds = [kind for kind, _ in steps]
    assert kinds.index("routing-decision") < kinds.index("routed") < kinds.index("ended")
    # The screen pop and the reducer know why (the decision remembered by linkedid).
    decision = w.services.router.memo.find(routed.linkedid, [routed.uniqueid])
    assert decision is not None and decision.contact_id == contact_id

    # The contact's timeline shows the call and the decision (a supervisor asks).
    async with w.client() as client:
        signed = await client.post(
            "/api/session", json={"login": "starshaya", "password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        page = (await client.get(f"/api/contacts/{contact_id}/timeline")).json()
    calls = [item["call"] for item in page["items"] if item["kind"] == "call"]
    newest = calls[0]
    assert newest["linkedid"] == routed.linkedid
    assert (newest["routed_by"], newest["routing_reason"]) == (
        "previous-manager",
        "Петров: talked 3 days ago",
    )
    assert newest["routing_reason_key"] == "previous_manager_free"
    # An answered call leaves no callback task.
    assert w.services.callbacks.created == 0


@pytest.mark.postgres
async def test_a_slow_database_never_holds_a_call(world: World, database_url: str) -> None:
    """PostgreSQL: a lock on `phones` stalls the facts query; the call goes to the queue
    after the deadline, and the timeout is counted."""
    w = world
    if w.services.db.dialect != "postgresql":
        pytest.skip("a SQLite reader is never blocked by a writer (WAL)")
    await w.contact("Иван Петров", "+79161234567", talked=[(A102, 3)])
    w.services.router.facts_timeout = 0.3  # the default TRUBKA_ROUTING_FACTS_TIMEOUT
    locker = Database(database_url)
    try:
        async with locker.engine.connect() as conn:
            await conn.exec_driver_sql("BEGIN")
            await conn.exec_driver_sql("LOCK TABLE phones IN ACCESS EXCLUSIVE MODE")
            started = time.perf_counter()
            d = await w.ask("+79161234567")
            elapsed = time.perf_counter() - started
            await conn.exec_driver_sql("ROLLBACK")
    finally:
        await locker.dispose()
    assert (d["ROUTE_BY"], d["ROUTE_AGENT"]) == ("facts-timeout", "")
    assert d["ROUTE_REASON"] == "CRM did not answer in time → queue"
    assert elapsed < 1.5
    assert w.services.router.stats.facts_timeouts == 1
