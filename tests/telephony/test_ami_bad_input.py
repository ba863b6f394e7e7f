"""Bad bytes on the live socket: counted, logged shortened, skipped; the other calls and
the process carry on. The bytes come from the simulated PBX over real TCP.
"""

from __future__ import annotations

import logging

import pytest

from telephony.simpbx import LegacyText
from telephony.simpbx import wire as w
from telephony.simpbx.wire import SimChannel
from tests.telephony.kit_sim import running
from tests.telephony.test_ami_client import Collected, client_for, eventually


def _fake_call(uniqueid: str, name: str, number: str = "74951110001") -> bytes:
    ch = SimChannel(
        f"Local/{number}@from-trunk-0000fa{uniqueid[-2:]};1",
        uniqueid,
        uniqueid,
        "from-trunk",
        number,
        state=w.RING,
        cid_num=number,
        cid_name=name,
    )
    return w.channel_event("Newchannel", ch)


async def test_split_utf8_name_cp1251_name_and_garbage(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    collected = Collected()
    async with running() as pbx, client_for(pbx, collected) as client:
        await client.wait_connected(5)
        stats = client.pipeline.decoder.stats
        state = client.pipeline.state
        # A UTF-8 Cyrillic name cut inside a letter, delivered in two TCP reads.
        frame = _fake_call("1795800000.91", "Иван Петров")
        cut = frame.index("И".encode()) + 1
        before = stats.bytes_in
        pbx.inject(frame[:cut])
        await eventually(lambda: stats.bytes_in >= before + cut)
        pbx.inject(frame[cut:])
        await eventually(lambda: "1795800000.91" in state.calls)
        assert state.calls["1795800000.91"].caller_name == "Иван Петров"
        # (Nothing else may be written while half a frame is out: Asterisk never
        # interleaves inside a frame. Now a real call runs through the rest.)
        real = pbx.place_call("79160000001", "Настоящий звонок", answered_by="101", talk_time=0.6)

        # An old trunk's cp1251 name: decoded with the fallback, not dropped.
        pbx.inject(_fake_call("1795800000.92", LegacyText("Ольга Смирнова"), "74951110002"))
        await eventually(lambda: "1795800000.92" in state.calls)
        assert state.calls["1795800000.92"].caller_name == "Ольга Смирнова"
        assert stats.fallback_decoded >= 1

        # Garbage, a known event missing what it must carry, a 1 MB header.
        pbx.inject(b"\x00\x01\xfe garbage that is not AMI\r\nno colon here either\r\n\r\n")
        pbx.inject(b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: Local/x-00000001;1\r\n\r\n")
        pbx.inject(
            b"Event: VarSet\r\nPrivilege: dialplan,all\r\nValue: " + b"A" * 1_000_000 + b"\r\n\r\n"
        )
        await eventually(lambda: stats.oversized == 1 and stats.malformed >= 1)
        await eventually(lambda: client.pipeline.stats.malformed_events == 1)

        assert real.task is not None
        await real.task
        await client.send_action("Ping")  # every event written before it has been read
        (record,) = [r for r in collected.records if r.linkedid == real.linkedid]
        assert record.disposition.value == "answered"
        assert record.caller_name == "Настоящий звонок"
        assert record.agent_interface == "Local/101@agents/n"
        assert client.connected and client.status.connects == 1
        bad = client.status_json()["bad_input"]
        assert (
            bad["oversized_frames"] == 1
            and bad["malformed_frames"] >= 1
            and bad["malformed_events"] == 1
        )
        assert bad["internal_errors"] == 0
        warnings = [r.getMessage() for r in caplog.records if r.name.startswith("telephony")]
        assert any("oversized" in m for m in warnings)
        assert all(len(m) < 400 for m in warnings), max(warnings, key=len)[:200]


async def test_connection_dropped_mid_frame() -> None:
    async with running() as pbx, client_for(pbx) as client:
        await client.wait_connected(5)
        stats = client.pipeline.decoder.stats
        before = stats.bytes_in
        half = b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: Local/1@x-00000001;1\r\nUniq"
        pbx.inject(half)
        await eventually(lambda: stats.bytes_in >= before + len(half))
        pbx.drop_connections()
        await eventually(lambda: client.status.connects == 2)
        assert stats.truncated_at_eof == 1
        assert client.pipeline.state.channels == {}
        call = pbx.place_call("79160000002", "После обрыва", answered_by="102", talk_time=0.05)
        assert call.task is not None
        await call.task
        await client.send_action("Ping")
        assert client.pipeline.state.calls == {}
        assert client.pipeline.state.stats.calls_finished == 1
