"""The simulated PBX's calls, read back through Trubka's own pipeline.

Every scenario runs over real TCP; the bytes a plain AMI session received are fed to
`EventPipeline` with their arrival times, and the call records it reconstructs must say
what the engine meant each call to be (`SimPbx.history`).
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

from telephony.simpbx import HangupBy, LegacyText, SimPbx
from tests.telephony.kit_sim import (
    AgiServer,
    AgiSession,
    RawAmi,
    assert_matches,
    replay_reads,
    running,
    sim_config,
)


async def _finish(pbx: SimPbx, raw: RawAmi) -> None:
    await pbx.wait_idle(10)
    await raw.sync()


async def _check_all(pbx: SimPbx, raw: RawAmi, count: int, *, talk_tolerance: float = 0.15) -> None:
    records, pipeline, _ = replay_reads(raw.reads)
    by_id = {r.linkedid: r for r in records}
    history = pbx.history
    assert len(history) == count
    assert len(records) == count, [r.to_json() for r in records]
    for intended in history:
        assert_matches(by_id[intended.linkedid], intended, talk_tolerance=talk_tolerance)
    assert pipeline.decoder.stats.malformed == 0
    assert pipeline.stats.malformed_events == 0
    assert pipeline.state.calls == {}


async def _one(pbx: SimPbx, raw: RawAmi, **kwargs: object) -> None:
    call = pbx.place_call(**kwargs)  # type: ignore[arg-type]
    assert call.task is not None
    await call.task


async def test_queue_calls_every_way_they_end() -> None:
    async with running() as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        await _one(pbx, raw, number="79160000001", name="Иван Петров", answered_by="101")
        await _one(pbx, raw, number="79160000002", name="Emily Clark", answered_by="102")
        await _one(pbx, raw, number="79160000003", name="Сергей", hangup_by=HangupBy.AGENT)
        pbx.set_agents_answer(False)
        await _one(pbx, raw, number="79160000004", name="Ольга", patience=0.6)  # abandons ringing
        await _one(pbx, raw, number="79160000005", name="Мария", patience=0.3, queue="empty")
        await _one(pbx, raw, number="79160000006", name="Павел", queue="short")  # Queue() times out
        pbx.set_agents_answer(True)
        await _one(pbx, raw, number="74951110002", name=LegacyText("Ольга Смирнова"), queue="sales")
        await _one(pbx, raw, number="84951110001", name="", answered_by="104", queue="sales")
        await _finish(pbx, raw)
        await _check_all(pbx, raw, 8)
        dispositions = [c.disposition for c in pbx.history]
        assert dispositions == [
            "answered",
            "answered",
            "answered",
            "abandoned",
            "abandoned",
            "no-answer",
            "answered",
            "answered",
        ]
        assert b"Reason: agent" in raw.data and b"Reason: caller" in raw.data
        assert b"Event: AgentRingNoAnswer" in raw.data
        assert "Ольга Смирнова".encode("cp1251") in raw.data
        await raw.close()


async def test_blind_transfer_keeps_the_caller_and_adds_the_agent() -> None:
    async with running() as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        await _one(
            pbx,
            raw,
            number="79161000001",
            name="Алексей",
            answered_by="101",
            talk_time=0.3,
            transfer_to="104",
        )
        await _finish(pbx, raw)
        records, _, _ = replay_reads(raw.reads)
        (record,) = records
        assert_matches(record, pbx.history[0])
        assert [a.removesuffix("/n") for a in record.agents] == [
            "Local/101@agents",
            "Local/104@agents",
        ]
        assert b"Event: BlindTransfer" in raw.data
        assert b"Reason: transfer" in raw.data
        await raw.close()


async def test_many_calls_at_once_reconstruct_exactly() -> None:
    async with running(sim_config(seed=11)) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        rng = pbx.rng
        for i in range(16):
            pbx.place_call(
                number=f"7916{2000000 + i:07d}",
                name=f"Клиент {i}",
                patience=rng.uniform(0.2, 1.5),
                talk_time=rng.uniform(0.05, 0.3),
                hangup_by=rng.choice([HangupBy.CALLER, HangupBy.AGENT]),
                queue=rng.choice(["support", "sales"]),
            )
        await _finish(pbx, raw)
        # 16 calls in one burst: the reader lags the engine most here.
        await _check_all(pbx, raw, 16, talk_tolerance=0.5)
        await raw.close()


def _route(agent: str, *, timeout: str = "") -> object:
    async def script(agi: AgiSession) -> None:
        await agi.command(f'VERBOSE "CRM lookup for {agi.env["agi_callerid"]}" 1')
        assert (await agi.command("GET VARIABLE UNIQUEID")).startswith("200 result=1 (")
        await agi.command("GET FULL VARIABLE ${CALLERID(num)}")
        await agi.command(f"SET VARIABLE ROUTE_AGENT {agent}")
        if timeout:
            await agi.command(f"SET VARIABLE ROUTE_TIMEOUT {timeout}")
        await agi.command('SET VARIABLE ROUTE_REASON "Ваш менеджер: Борис"')
        await agi.command("SET VARIABLE ROUTE_BY previous-manager")
        await agi.command("SET VARIABLE TRUBKA_CONTACT_ID 4242")
        await agi.command('SET VARIABLE CALLERID(name) "ООО Ромашка"')

    return script


async def _slow(agi: AgiSession) -> None:
    await agi.reader.read()  # never answers; the PBX gives up and closes


async def _garbage(agi: AgiSession) -> None:
    agi.writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    await agi.writer.drain()


async def test_fastagi_routing_and_every_way_it_can_fail() -> None:
    scripts = {
        "01": _route("Local/102@agents/n"),
        "02": _route("Local/103@agents/n", timeout="0.2"),
        "03": _slow,
        "04": _garbage,
        "05": _route("PJSIP/999"),
    }
    async with AgiServer(scripts) as agi, running(sim_config(agi_url=agi.url)) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        await _one(pbx, raw, number="79162000001", name="Иван")
        pbx.set_agent_answers("103", False)
        await _one(pbx, raw, number="79162000002", name="Анна", answered_by="101")
        pbx.set_agent_answers("103", True)
        await _one(pbx, raw, number="79162000003", name="Пётр", answered_by="101")
        await _one(pbx, raw, number="79162000004", name="Олег", answered_by="102")
        await _one(pbx, raw, number="79162000005", name="Нина", answered_by="101")
        await _finish(pbx, raw)
        records, _, _ = replay_reads(raw.reads)
        by_id = {r.linkedid: r for r in records}
        routed, fallback, slow, garbage, unknown = (by_id[c.linkedid] for c in pbx.history)
        for record, intended in zip(
            (routed, fallback, slow, garbage, unknown), pbx.history, strict=True
        ):
            assert_matches(record, intended)
        assert routed.queue is None and routed.agent_interface is not None
        assert routed.agent_interface.startswith("Local/102@agents")
        assert routed.routed_by == "previous-manager"
        assert routed.routing_reason == "Ваш менеджер: Борис"
        assert routed.contact_id == 4242
        assert routed.caller_name == "ООО Ромашка"
        assert fallback.queue == "support" and fallback.agent_interface == "Local/101@agents/n"
        assert slow.queue == garbage.queue == unknown.queue == "support"
        assert b"Variable: AGISTATUS\r\nValue: FAILURE" in raw.data  # the slow one
        assert b"ResultCode: 510" in raw.data  # the garbage lines
        env = agi.sessions[0].env
        assert env["agi_network"] == "yes" and env["agi_request"] == agi.url
        assert env["agi_callerid"] == "79162000001" and env["agi_arg_1"] == "79162000001"
        assert env["agi_channel"].startswith("Local/79162000001@from-trunk-") and env[
            "agi_channel"
        ].endswith(";2")
        assert agi.sessions[0].replies[0] == "200 result=1"
        await raw.close()


async def test_fastagi_down_falls_back_to_the_queue() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with running(sim_config(agi_url=f"agi://127.0.0.1:{port}/route")) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        await _one(pbx, raw, number="79163000001", name="Юрий", answered_by="102")
        await _finish(pbx, raw)
        records, _, _ = replay_reads(raw.reads)
        assert_matches(records[0], pbx.history[0])
        assert records[0].queue == "support"
        assert b"Variable: AGISTATUS\r\nValue: FAILURE" in raw.data
        await raw.close()


async def test_click_to_call_rings_the_agent_first(tmp_path: Path) -> None:
    async with running() as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        reply = await raw.action(
            "Originate",
            {
                "Channel": "Local/101@agents/n",
                "Context": "from-internal",
                "Exten": "79165550001",
                "Priority": "1",
                "CallerID": '"Анна Смирнова" <101>',
                "Async": "true",
                "ChannelId": "c2c-0001-agent",
                "OtherChannelId": "c2c-0001-agent-2",
                "Variable": "CRM_CALL_ID=c2c-0001",
            },
            complete="OriginateResponse",
        )
        assert b"Message: Originate successfully queued" in reply
        assert b"Response: Success\r\nChannel: Local/101@agents-" in reply
        assert b"Uniqueid: c2c-0001-agent\r\n" in reply
        await _finish(pbx, raw)
        records, _, _ = replay_reads(raw.reads)
        (record,) = records
        assert record.linkedid == "c2c-0001-agent"
        assert_matches(record, pbx.history[0])
        await raw.close()


async def test_recordings_are_real_wav_files(tmp_path: Path) -> None:
    async with running(sim_config(spool_dir=tmp_path, recordings_path=str(tmp_path))) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        await _one(pbx, raw, number="79164000001", name="Вера", answered_by="101", talk_time=0.5)
        pbx.set_agents_answer(False)
        await _one(pbx, raw, number="79164000002", name="Лев", patience=0.2)
        await _finish(pbx, raw)
        answered, abandoned = pbx.history
        assert answered.recording_file and abandoned.recording_file
        with wave.open(str(tmp_path / answered.recording_file)) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (
                8000,
                1,
                2,
            )
            assert abs(audio.getnframes() / 8000 - answered.talk_seconds) < 0.01
        assert (tmp_path / abandoned.recording_file).stat().st_size == 44
        records, _, _ = replay_reads(raw.reads)
        assert {r.recording_file for r in records} == {
            str(tmp_path / answered.recording_file),
            str(tmp_path / abandoned.recording_file),
        }
        await raw.close()


async def _urgent(agi: AgiSession) -> None:
    await agi.command("SET VARIABLE QUEUE_PRIO 10")


async def test_queue_prio_from_fastagi_puts_the_caller_first() -> None:
    async with AgiServer({"02": _urgent}) as agi, running(sim_config(agi_url=agi.url)) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        first = pbx.place_call("79165000001", "Обычный", queue="empty", talk_time=0.05)
        await raw.until(lambda data: b"Queue: empty\r\nPosition: 1\r\nCount: 1" in data)
        urgent = pbx.place_call("79165000002", "Срочный", queue="empty", talk_time=0.05)
        await raw.until(lambda data: b"Queue: empty\r\nPosition: 1\r\nCount: 2" in data)
        status = await raw.action("QueueStatus", {"Queue": "empty"}, complete="QueueStatusComplete")
        assert status.index(b"CallerIDNum: 79165000002") < status.index(b"CallerIDNum: 79165000001")
        assert b"Priority: 10\r\n" in status
        await raw.action("QueueAdd", {"Queue": "empty", "Interface": "Local/101@agents/n"})
        for call in (urgent, first):
            assert call.task is not None
            await call.task
        await _finish(pbx, raw)
        assert [c.caller_number for c in pbx.history] == ["79165000002", "79165000001"]
        records, _, _ = replay_reads(raw.reads)
        for record, intended in zip(records, pbx.history, strict=True):
            assert_matches(record, intended)
        await raw.close()
