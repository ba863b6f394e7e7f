"""The simulated PBX in PJSIP mode (SIP phones `PJSIP/201`…, a SIP trunk for customers),
read back through Trubka's own pipeline, and held against the real PJSIP traces.

Every scenario runs over real TCP; the bytes a plain AMI session received are fed to
`EventPipeline` with their arrival times.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from kernel.phones import normalize
from telephony.codec import AmiDecoder, FrameKind
from telephony.records import CallRecord
from telephony.simpbx import AgentConfig, HangupBy, SimConfig, SimPbx
from tests.kit_traces import TRACES
from tests.telephony.kit_sim import (
    AgiServer,
    AgiSession,
    RawAmi,
    assert_matches,
    replay_reads,
    running,
    sim_config,
)

PHONES = (
    AgentConfig("201", "Agent 201", ("support",)),
    AgentConfig("202", "Agent 202", ("support",)),
    AgentConfig("203", "Agent 203", ("support", "sales")),
)
CHANNEL = re.compile(r"^PJSIP/(trunk|20\d)-[0-9a-f]{8}$")
P1 = TRACES / "p1-queue-answered-caller-hangs-up.ami"
P9 = "p9-203-unregister-reregister.ami"


def _config(**overrides: object) -> SimConfig:
    return sim_config(channel_mode="pjsip", agents=PHONES, **overrides)


def _frames(data: bytes) -> list[dict[str, str]]:
    """Every event of an AMI byte stream, as `{header: first value}`."""
    return [
        {k: v for k, v in reversed(f.pairs)}
        for f in AmiDecoder().feed(data)
        if f.kind is FrameKind.EVENT
    ]


async def _one(pbx: SimPbx, **kwargs: object) -> str:
    call = pbx.place_call(**kwargs)  # type: ignore[arg-type]
    assert call.task is not None
    await call.task
    return call.linkedid


async def _records(pbx: SimPbx, raw: RawAmi) -> dict[str, CallRecord]:
    await pbx.wait_idle(10)
    await raw.sync()
    records, pipeline, _ = replay_reads(raw.reads)
    assert pipeline.decoder.stats.malformed == 0
    assert pipeline.stats.malformed_events == 0
    assert pipeline.state.calls == {}
    by_id = {r.linkedid: r for r in records}
    assert len(by_id) == len(pbx.history)
    for intended in pbx.history:
        assert_matches(by_id[intended.linkedid], intended)
    return by_id


def test_pjsip_mode_names_agents_by_their_phones() -> None:
    config = _config()
    assert [a.interface for a in config.agents] == ["PJSIP/201", "PJSIP/202", "PJSIP/203"]
    assert sim_config().agents[0].interface == "Local/101@agents/n"  # "local" stays the default
    with pytest.raises(ValueError):
        SimConfig(channel_mode="sip")


async def test_queue_call_answered_by_a_phone_and_an_abandon() -> None:
    async with running(_config()) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        answered = await _one(pbx, number="+74951110001", name="Иван Петров", answered_by="201")
        pbx.set_agents_answer(False)
        abandoned = await _one(pbx, number="89161110002", name="Ольга", patience=0.6)
        by_id = await _records(pbx, raw)
        record = by_id[answered]
        assert record.agent_interface == "PJSIP/201"
        assert record.caller_number == normalize("+74951110001", "RU") == "+74951110001"
        assert record.disposition.value == "answered"
        assert record.queue == "support"
        assert record.called_number == "+74951234567"  # the DID, the trunk channel's Exten
        gone = by_id[abandoned]
        assert gone.disposition.value == "abandoned"
        assert gone.caller_number == "+79161110002"
        assert gone.agent_interface is None
        frames = _frames(b"".join(chunk for _, chunk in raw.reads))
        names = {f[k] for f in frames for k in ("Channel", "DestChannel") if k in f}
        assert names, "no channel was named"
        assert all(CHANNEL.match(name) for name in names), sorted(names)
        kinds = {f.get("Event") for f in frames}
        assert "LocalBridge" not in kinds and "NewCallerid" not in kinds
        members = {f["Interface"] for f in frames if f.get("Event") == "AgentCalled"}
        assert members <= {"PJSIP/201", "PJSIP/202", "PJSIP/203"} and members
        dialled = {f["DialString"] for f in frames if f.get("Event") == "DialBegin"}
        assert dialled <= {"PJSIP/201", "PJSIP/202", "PJSIP/203"} and dialled
        # Two channels for the answered call: the trunk's and the phone's.
        linked = {f["Channel"] for f in frames if f.get("Linkedid") == answered and "Channel" in f}
        assert {n.split("-")[0] for n in linked} == {"PJSIP/trunk", "PJSIP/201"}
        await raw.close()


async def test_answered_queue_call_uses_only_event_types_of_the_real_trace() -> None:
    real = {f.get("Event") for f in _frames(P1.read_bytes())} - {None}
    async with running(_config()) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        await _one(pbx, number="+74951110001", name="Иван Петров", answered_by="201")
        await _records(pbx, raw)
        simulated = {f.get("Event") for f in _frames(b"".join(c for _, c in raw.reads))}
        simulated -= {None}
        assert simulated <= real, sorted(simulated - real)
        await raw.close()


def _route(agent: str) -> object:
    async def script(agi: AgiSession) -> None:
        assert agi.env["agi_channel"].startswith("PJSIP/trunk-")
        assert agi.env["agi_type"] == "PJSIP"
        assert (agi.env["agi_context"], agi.env["agi_extension"]) == (
            "from-trunk-trubka",
            "74951234567",
        )
        assert agi.env["agi_callerid"] == "89161110002"  # as the carrier sent it
        await agi.command(f"SET VARIABLE ROUTE_AGENT {agent}")
        await agi.command("SET VARIABLE ROUTE_BY previous-manager")

    return script


async def test_fastagi_routes_to_a_phone() -> None:
    async with (
        AgiServer({"02": _route("PJSIP/202")}) as agi,
        running(_config(agi_url=agi.url)) as pbx,
    ):
        raw = RawAmi(pbx.port)
        await raw.connect()
        routed = await _one(pbx, number="89161110002", name="Пётр")
        by_id = await _records(pbx, raw)
        assert len(agi.sessions) == 1
        record = by_id[routed]
        assert record.agent_interface == "PJSIP/202"
        assert record.queue is None
        assert record.routed_by == "previous-manager"
        assert record.caller_number == "+79161110002"
        assert record.disposition.value == "answered"
        frames = _frames(b"".join(c for _, c in raw.reads))
        dialled = [f["DialString"] for f in frames if f.get("Event") == "DialBegin"]
        assert dialled == ["202"]  # Dial(PJSIP/202) reports the endpoint, as in p2
        names = {f[k] for f in frames for k in ("Channel", "DestChannel") if k in f}
        assert all(CHANNEL.match(name) for name in names), sorted(names)
        await raw.close()


async def test_click_to_call_rings_the_phone_then_the_trunk() -> None:
    async with running(_config()) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        reply = await raw.action(
            "Originate",
            {
                "Channel": "PJSIP/201",
                "Context": "agents-pj",
                "Exten": "79265550002",
                "Priority": "1",
                "CallerID": '"Agent 201" <201>',
                "Async": "true",
            },
            complete="OriginateResponse",
        )
        assert b"Message: Originate successfully queued" in reply
        assert re.search(rb"Response: Success\r\nChannel: PJSIP/201-[0-9a-f]{8}\r\n", reply)
        by_id = await _records(pbx, raw)
        (record,) = by_id.values()
        assert record.direction.value == "outbound"
        assert record.agent_interface == "PJSIP/201"
        assert record.called_number == "+79265550002"
        frames = _frames(b"".join(c for _, c in raw.reads))
        dialled = [f["DialString"] for f in frames if f.get("Event") == "DialBegin"]
        assert dialled == ["201", "79265550002@trunk"]  # as in the click-to-call trace p5
        names = {f[k] for f in frames for k in ("Channel", "DestChannel") if k in f}
        assert {n.split("-")[0] for n in names} == {"PJSIP/201", "PJSIP/trunk"}
        assert all(CHANNEL.match(name) for name in names), sorted(names)
        await raw.close()


async def test_demo_with_pjsip_gives_agents_their_phones(
    tmp_path: Path, sqlite_template: Path
) -> None:
    from crm.database import Database
    from crm.demo_data import seed_demo
    from crm.users import UserService
    from trubka.demo import sim_config as demo_sim_config
    from trubka.settings import load_settings

    settings = load_settings(recordings_spool=tmp_path / "spool")
    config = demo_sim_config(settings, pjsip=True)
    assert config.channel_mode == "pjsip"
    assert [a.interface for a in config.agents] == [f"PJSIP/10{i}" for i in range(1, 6)]
    assert demo_sim_config(settings).agents[0].interface == "Local/101@agents/n"
    shutil.copy(sqlite_template, tmp_path / "demo.db")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    try:
        await seed_demo(db, contacts=3)  # an earlier demo run with Local channels …
        users = UserService(db)
        agent = await users.get_by_login("agent101")
        assert agent is not None and agent.interfaces == ("Local/101@agents/n",)
        await seed_demo(db, contacts=3, pjsip=True)  # … then `trubka demo --pjsip`
        agent = await users.get_by_login("agent101")
        supervisor = await users.get_by_login("supervisor")
        assert agent is not None and agent.interfaces == ("PJSIP/101",)
        assert supervisor is not None and supervisor.interfaces == ("PJSIP/200",)
    finally:
        await db.dispose()


async def test_many_calls_transfers_and_ring_all_stay_pjsip() -> None:
    async with running(_config(seed=11)) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        rng = pbx.rng
        for i in range(12):
            pbx.place_call(
                number=f"+7916{2000000 + i:07d}",
                name=f"Клиент {i}",
                patience=rng.uniform(0.2, 1.5),
                talk_time=rng.uniform(0.05, 0.3),
                hangup_by=rng.choice([HangupBy.CALLER, HangupBy.AGENT]),
                queue=rng.choice(["support", "sales"]),
            )
        await pbx.wait_idle(10)
        transferred = await _one(
            pbx, number="+74951110009", name="Вера", answered_by="201", transfer_to="203"
        )
        await pbx.wait_idle(10)
        await raw.sync()
        records, pipeline, _ = replay_reads(raw.reads)
        by_id = {r.linkedid: r for r in records}
        assert len(by_id) == len(pbx.history) == 13
        for intended in pbx.history:
            assert_matches(by_id[intended.linkedid], intended, talk_tolerance=0.5)
        assert pipeline.state.calls == {}
        assert by_id[transferred].agents == ("PJSIP/201", "PJSIP/203")
        frames = _frames(b"".join(c for _, c in raw.reads))
        names = {f[k] for f in frames for k in ("Channel", "DestChannel") if k in f}
        assert all(CHANNEL.match(name) for name in names), sorted(names)
        assert not any(b"Local/" in chunk for _, chunk in raw.reads)
        await raw.close()


async def test_an_unregistered_phone_is_unavailable_and_never_rung() -> None:
    real = {f.get("Event") for f in _frames((TRACES / P9).read_bytes())} - {None}
    async with running(_config()) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        with pytest.raises(ValueError):
            SimPbx(sim_config()).set_phone_registered("101", False)
        pbx.set_phone_registered("203", False)
        # sales has only 203: nobody rings, the caller gives up
        alone = await _one(pbx, number="+74951110011", name="Лев", queue="sales", patience=0.5)
        queued = await _one(pbx, number="+74951110012", name="Вера")
        await raw.sync()
        _, pipeline, _ = replay_reads(raw.reads)
        agent = pipeline.state.agent_for("PJSIP/203")
        assert agent is not None and agent.device_state == "UNAVAILABLE"
        pbx.set_phone_registered("203", True)
        back = await _one(pbx, number="+74951110013", name="Ян", queue="sales")
        by_id = await _records(pbx, raw)
        assert by_id[alone].disposition.value == "abandoned"
        assert by_id[alone].agents == ()
        assert by_id[queued].agent_interface in ("PJSIP/201", "PJSIP/202")
        assert by_id[back].agent_interface == "PJSIP/203"
        frames = _frames(b"".join(c for _, c in raw.reads))
        called = [f["Interface"] for f in frames if f.get("Event") == "AgentCalled"]
        assert called[-1] == "PJSIP/203" and "PJSIP/203" not in called[:-1]
        statuses = [f["ContactStatus"] for f in frames if f.get("Event") == "ContactStatus"]
        assert statuses == ["Removed", "NonQualified", "Reachable"]
        peers = [f["PeerStatus"] for f in frames if f.get("Event") == "PeerStatus"]
        assert peers == ["Unreachable", "Reachable"]
        assert {"Device": "PJSIP/203", "State": "UNAVAILABLE"}.items() <= next(
            f for f in frames if f.get("Device") == "PJSIP/203"
        ).items()
        unavailable = [
            f
            for f in frames
            if f.get("Event") == "QueueMemberStatus" and f["Interface"] == "PJSIP/203"
        ][:2]
        assert [f["Status"] for f in unavailable] == ["5", "5"]  # support and sales
        registration = {"PeerStatus", "ContactStatus", "DeviceStateChange", "QueueMemberStatus"}
        assert registration <= real
        await raw.close()


async def test_core_show_channels_lists_only_the_pjsip_channels() -> None:
    async with running(_config()) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        pbx.set_agents_answer(False)
        call = pbx.place_call(number="+74951110021", name="Зоя", patience=3.0)
        await raw.until(lambda data: b"Event: AgentCalled" in data)
        reply = await raw.action("CoreShowChannels", complete="CoreShowChannelsComplete")
        listed = {m.decode() for m in re.findall(rb"\r\nChannel: ([^\r]*)\r\n", reply)}
        assert {n.split("-")[0] for n in listed} >= {"PJSIP/trunk"}, listed
        assert all(CHANNEL.match(n) for n in listed), listed
        pbx.hang_up(call.linkedid)
        await pbx.wait_idle(10)
        await raw.close()


async def test_a_supervisor_phone_spies_on_an_agent_phone() -> None:
    async with running(_config()) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        call = pbx.place_call(number="+74951110031", name="Ада", answered_by="201", talk_time=3.0)
        await raw.until(lambda data: b"Event: AgentConnect" in data)
        reply = await raw.action(
            "Originate",
            {
                "Channel": "PJSIP/200",
                "Application": "ChanSpy",
                "Data": "PJSIP/201-,bqS",
                "CallerID": '"Spy (listen)" <200>',
                "Async": "true",
            },
            complete="OriginateResponse",
        )
        assert b"Response: Success" in reply
        await raw.until(lambda data: b"Event: ChanSpyStart" in data)
        assert re.search(rb"SpyerChannel: PJSIP/200-[0-9a-f]{8}\r\n", raw.data)
        assert re.search(rb"SpyeeChannel: PJSIP/201-[0-9a-f]{8}\r\n", raw.data)
        pbx.hang_up(call.linkedid)
        await pbx.wait_idle(10)
        await raw.sync()
        assert b"Local/" not in raw.data
        await raw.close()
