"""FastAGI on every node: the simulated PBX asks a second host when the first fails, as
the sample dialplan does (asterisk_conf/extensions.conf, TRUBKA_AGI_2), within the one
budget: a refused first host costs nothing, a hung one uses up the budget."""

from __future__ import annotations

import asyncio

from telephony.simpbx import SimPbx
from tests.telephony.kit_sim import (
    AgiServer,
    AgiSession,
    RawAmi,
    assert_matches,
    replay_reads,
    running,
    sim_config,
)


async def _dead_url() -> str:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return f"agi://127.0.0.1:{port}/route?pbx=a"


async def _to_102(agi: AgiSession) -> None:
    await agi.command("SET VARIABLE ROUTE_BY previous-manager")
    await agi.command("SET VARIABLE ROUTE_AGENT Local/102@agents/n")


async def _hang(agi: AgiSession) -> None:
    await agi.reader.read()  # never answers: the PBX gives up when the budget is spent


async def _call(pbx: SimPbx, number: str) -> None:
    call = pbx.place_call(number, "Иван", patience=3.0, talk_time=0.1)
    assert call.task is not None
    await call.task


async def test_the_second_host_answers_when_the_first_is_down() -> None:
    dead = await _dead_url()
    async with AgiServer({"01": _to_102, "02": _to_102}) as second:
        config = sim_config(agi_url=dead, agi_fallback_urls=(second.url + "?pbx=a",))
        async with running(config) as pbx:
            raw = RawAmi(pbx.port)
            await raw.connect()
            await _call(pbx, "79164000001")
            await pbx.wait_idle(10)
            await raw.sync()
            records, _, _ = replay_reads(raw.reads)
            (record,) = records
            assert_matches(record, pbx.history[0])
            # The first host failed, the second routed the call to 102.
            assert record.routed_by == "previous-manager"
            assert (record.agent_interface or "").startswith("Local/102@agents")
            assert pbx.history[0].routed_agent == "Local/102@agents/n"
            data = raw.data
            first = data.index(b"Variable: AGISTATUS\r\nValue: FAILURE")
            assert data.index(b"Variable: AGISTATUS\r\nValue: SUCCESS") > first
            (session,) = second.sessions
            assert session.env["agi_network_script"] == "route?pbx=a"
            await raw.close()


async def test_the_second_host_is_not_asked_when_the_first_answers() -> None:
    async with (
        AgiServer({"02": _to_102}) as first,
        AgiServer({"02": _to_102}) as second,
    ):
        config = sim_config(agi_url=first.url, agi_fallback_urls=(second.url,))
        async with running(config) as pbx:
            await _call(pbx, "79164000002")
            await pbx.wait_idle(10)
            assert len(first.sessions) == 1
            assert second.sessions == []
            assert pbx.history[0].routed_agent == "Local/102@agents/n"


async def test_a_hung_first_host_uses_up_the_budget_and_the_queue_takes_the_call() -> None:
    async with (
        AgiServer({"03": _hang}) as first,
        AgiServer({"03": _to_102}) as second,
    ):
        config = sim_config(agi_url=first.url, agi_fallback_urls=(second.url,))
        async with running(config) as pbx:
            raw = RawAmi(pbx.port)
            await raw.connect()
            await _call(pbx, "79164000003")
            await pbx.wait_idle(10)
            await raw.sync()
            records, _, _ = replay_reads(raw.reads)
            (record,) = records
            assert second.sessions == []  # nothing left of the budget for it
            assert record.queue == "support"
            assert not pbx.history[0].routed_agent
            await raw.close()
