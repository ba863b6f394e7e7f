"""The simulated PBX answers AMI like the recorded Asterisk 22.10.1: the same texts, the
same list shapes, the same header names in the same order (tests/traces/EVENT-FIELDS.md).
"""

from __future__ import annotations

import hashlib
import re

from telephony.simpbx import SimPbx
from tests.kit_traces import TRACES
from tests.telephony.kit_sim import SECRET, USER, AgiServer, AgiSession, RawAmi, running, sim_config


def _documented() -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for line in (TRACES / "EVENT-FIELDS.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"- \*\*Event: (\w+)\*\*: (.+)$", line)
        if match:
            fields[match.group(1)] = [name.strip() for name in match.group(2).split(",")]
    return fields


def _is_subsequence(names: list[str], order: list[str]) -> bool:
    position = 0
    for name in names:
        try:
            position = order.index(name, position) + 1
        except ValueError:
            return False
    return True


# Events whose header set is the same every time Asterisk writes them.
_EXACT = {
    "Newchannel",
    "Newstate",
    "NewCallerid",
    "NewConnectedLine",
    "Newexten",
    "VarSet",
    "Hangup",
    "HangupRequest",
    "SoftHangupRequest",
    "LocalBridge",
    "CEL",
    "Cdr",
    "BridgeCreate",
    "BridgeEnter",
    "BridgeLeave",
    "BridgeDestroy",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "AgentRingNoAnswer",
    "MixMonitorStart",
    "MusicOnHoldStart",
    "MusicOnHoldStop",
    "QueueMemberStatus",
    "QueueMemberPause",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "QueueMember",
    "QueueParams",
    "QueueEntry",
    "CoreShowChannel",
    "Status",
    "AGIExecStart",
    "AGIExecEnd",
    "HangupHandlerPush",
    "HangupHandlerRun",
    "FullyBooted",
    "SuccessfulAuth",
    "QueueSummary",
}


# Headers only some of the recorded frames of a type carry.
_OPTIONAL = {
    name: {"ActionID"}
    for name in ("QueueMember", "QueueParams", "QueueEntry", "QueueSummary", "Status")
}
_OPTIONAL["CoreShowChannel"] = {"ActionID"}


async def _route_to_102(agi: AgiSession) -> None:
    await agi.command("SET VARIABLE ROUTE_AGENT Local/102@agents/n")
    await agi.command("FOO BAR")


async def test_every_event_has_the_recorded_header_names_in_order() -> None:
    documented = _documented()
    async with AgiServer({"01": _route_to_102}) as agi, running(sim_config(agi_url=agi.url)) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        first = pbx.place_call("79160000001", "Иван", answered_by="102", talk_time=0.4)
        second = pbx.place_call(
            "79160000002", "Ольга", answered_by="104", queue="sales", talk_time=0.4
        )
        waiting = pbx.place_call("79160000004", "Ждущий", queue="empty", patience=1.0)
        await raw.until(
            lambda data: data.count(b"Event: AgentConnect") + data.count(b"Event: BridgeEnter") >= 4
        )
        await raw.action("CoreShowChannels", complete="CoreShowChannelsComplete")
        await raw.action("Status", complete="StatusComplete")
        await raw.until(lambda data: b"Queue: empty" in data)
        queues = await raw.action("QueueStatus", complete="QueueStatusComplete")
        assert b"Event: QueueEntry\r\nQueue: empty\r\nPosition: 1\r\n" in queues
        await raw.action("QueueSummary", complete="QueueSummaryComplete")
        await raw.action("DeviceStateList", complete="DeviceStateListComplete")
        await raw.action(
            "QueueAdd", {"Queue": "sales", "Interface": "Local/101@agents/n", "Paused": "true"}
        )
        await raw.action("QueuePause", {"Interface": "Local/101@agents/n", "Paused": "false"})
        await raw.action("QueueRemove", {"Queue": "sales", "Interface": "Local/101@agents/n"})
        pbx.set_agents_answer(False)
        third = pbx.place_call("79160000003", "Пётр", patience=0.5)
        for call in (first, second, third, waiting):
            assert call.task is not None
            await call.task
        await raw.sync()
        seen: set[str] = set()
        for name, names in _frame_names(raw.data):
            seen.add(name)
            if name not in documented:
                continue
            unique = list(dict.fromkeys(names))  # UserEvent repeats Uniqueid in its body
            assert set(unique) <= set(documented[name]), (name, set(unique) - set(documented[name]))
            # ActionID sits where each list puts it (second in DeviceStateChange items, last
            # in QueueMember ones); the documented order is only its first appearance.
            ordered = [n for n in unique if n != "ActionID"]
            assert _is_subsequence(ordered, [n for n in documented[name] if n != "ActionID"]), (
                name,
                unique,
            )
            if name in _EXACT:
                missing = set(documented[name]) - set(unique) - _OPTIONAL.get(name, set())
                assert not missing, (name, missing)
        assert seen >= _EXACT, _EXACT - seen
        await raw.close()


def _frame_names(data: bytes) -> list[tuple[str, list[str]]]:
    out = []
    for raw in data.split(b"\r\n\r\n"):
        lines = [line for line in raw.split(b"\r\n") if b":" in line]
        if lines and lines[0].startswith(b"Event: "):
            out.append((lines[0][7:].decode(), [line.split(b":", 1)[0].decode() for line in lines]))
    return out


async def test_login_failures_and_permissions_read_like_asterisk() -> None:
    async with running() as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect(login=False)
        assert raw.data == b"Asterisk Call Manager/11.0.0\r\n"
        denied = await raw.action("Ping")
        assert denied.endswith(b"Message: Permission denied\r\n\r\n")
        assert (await raw.action("CoreStatus")).startswith(b"Response: Error\r\n")
        failed = await raw.action("Login", {"Username": USER, "Secret": "wrong"})
        assert (
            failed == b"Response: Error\r\nActionID: t-3\r\nMessage: Authentication failed\r\n\r\n"
        )
        await raw.until(lambda _: raw.closed)
        assert b"Secret" not in raw.data and b"wrong" not in raw.data
        await raw.close()


async def test_md5_challenge_login() -> None:
    async with running() as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect(login=False)
        reply = await raw.action("Challenge", {"AuthType": "MD5"})
        challenge = re.search(rb"Challenge: (\d+)", reply)
        assert challenge is not None
        key = hashlib.md5(challenge.group(1) + SECRET.encode()).hexdigest()
        accepted = await raw.action(
            "Login", {"AuthType": "MD5", "Username": USER, "Key": key, "Events": "off"}
        )
        assert b"Message: Authentication accepted" in accepted
        pong = await raw.action("Ping")
        assert re.fullmatch(
            rb"Response: Success\r\nActionID: t-3\r\nPing: Pong\r\nTimestamp: \d+\.\d{6}\r\n\r\n",
            pong,
        )
        bye = await raw.action("Logoff")
        assert (
            bye
            == b"Response: Goodbye\r\nActionID: t-4\r\nMessage: Thanks for all the fish.\r\n\r\n"
        )
        assert b"Event: FullyBooted" not in raw.data  # Events: off
        await raw.close()


async def test_actions_answer_with_the_recorded_texts() -> None:
    async with running() as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        unknown = await raw.action("FooBarNoSuchAction")
        assert (
            b"Message: Invalid/unknown command: FooBarNoSuchAction. "
            b"Use Action: ListCommands to show available commands." in unknown
        )
        version = await raw.action("CoreSettings")
        assert b"AsteriskVersion: 22.10.1\r\n" in version and b"AMIversion: 11.0.0\r\n" in version
        failed = await raw.action(
            "Originate",
            {
                "Channel": "Local/999@no-such-context",
                "Application": "Wait",
                "Data": "1",
                "Timeout": "5000",
            },
        )
        assert b"Response: Error" in failed and b"Message: Originate failed" in failed
        queued = await raw.action(
            "Originate",
            {
                "Channel": "Local/999@no-such-context",
                "Application": "Wait",
                "Data": "1",
                "Async": "true",
            },
            complete="OriginateResponse",
        )
        assert b"Message: Originate successfully queued" in queued
        assert b"Response: Failure\r\nChannel: Local/999@no-such-context\r\n" in queued
        assert b"Reason: 0\r\nUniqueid: <unknown>\r\n" in queued
        added = await raw.action(
            "QueueAdd",
            {
                "Queue": "sales",
                "Interface": "Local/106@agents/n",
                "MemberName": "Agent 106",
                "Paused": "true",
                "Reason": "login-paused",
            },
        )
        assert b"Message: Added interface to queue" in added
        again = await raw.action("QueueAdd", {"Queue": "sales", "Interface": "Local/106@agents/n"})
        assert b"Message: Unable to add interface: Already there" in again
        status = await raw.action(
            "QueueStatus",
            {"Queue": "sales", "Member": "Local/106@agents/n"},
            complete="QueueStatusComplete",
        )
        assert b"Name: Agent 106\r\nLocation: Local/106@agents/n\r\n" in status
        assert b"Paused: 1\r\nPausedReason: login-paused\r\n" in status
        assert b"EventList: Complete\r\nListItems: 2\r\n" in status
        unpause = await raw.action(
            "QueuePause", {"Queue": "sales", "Interface": "Local/106@agents/n", "Paused": "false"}
        )
        assert b"Message: Interface unpaused successfully" in unpause
        lunch = await raw.action(
            "QueuePause", {"Interface": "Local/101@agents/n", "Paused": "true", "Reason": "lunch"}
        )
        assert b"Message: Interface paused successfully" in lunch
        await raw.until(lambda data: b"PausedReason: lunch" in data)
        missing = await raw.action(
            "QueuePause", {"Queue": "sales", "Interface": "Local/199@agents/n", "Paused": "true"}
        )
        assert b"Message: Interface not found" in missing
        removed = await raw.action(
            "QueueRemove", {"Queue": "sales", "Interface": "Local/106@agents/n"}
        )
        assert b"Message: Removed interface from queue" in removed
        gone = await raw.action(
            "QueueRemove", {"Queue": "sales", "Interface": "Local/106@agents/n"}
        )
        assert b"Message: Unable to remove interface: Not there" in gone
        await raw.until(lambda data: b"Event: QueueMemberRemoved" in data)
        no_channel = await raw.action(
            "Getvar", {"Channel": "Local/nonexistent-0000;1", "Variable": "X"}
        )
        assert b"Message: No such channel" in no_channel
        setvar = await raw.action("Setvar", {"Variable": "AGENT_MODE", "Value": "noanswer"})
        assert b"Message: Variable Set" in setvar
        await raw.until(
            lambda data: (
                b"Channel: none\r\nUniqueid: none\r\nVariable: AGENT_MODE\r\nValue: noanswer"
                in data
            )
        )
        getvar = await raw.action("Getvar", {"Variable": "AGENT_MODE"})
        assert b"Variable: AGENT_MODE\r\nValue: noanswer\r\n" in getvar
        command = await raw.action("Command", {"Command": "no such cli command"})
        assert b"Response: Error" in command and b"Message: Command output follows" in command
        assert (
            b"Output: No such command 'no such cli command' "
            b"(type 'core show help no such' for other" in command
        )
        show = await raw.action("Command", {"Command": "queue show support"})
        assert b"Output: support has 0 calls (max unlimited) in 'rrmemory' strategy" in show
        await raw.close()


async def test_a_live_call_in_the_lists_and_channel_actions() -> None:
    async with running() as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        call = pbx.place_call(
            "79160000006", "Customer 79160000006", answered_by="102", talk_time=30
        )
        await raw.until(lambda data: b"Event: AgentConnect" in data)
        two = call.two
        assert two is not None
        channels = await raw.action("CoreShowChannels", complete="CoreShowChannelsComplete")
        assert channels.count(b"Event: CoreShowChannel\r\n") == 4
        assert f"Channel: {two.name}\r\n".encode() in channels
        assert b"Application: Queue\r\nApplicationData: support,,,,120\r\n" in channels
        assert re.search(rb"BridgeId: [0-9a-f-]{36}\r\n", channels)
        one = await raw.action("Status", {"Channel": two.name}, complete="StatusComplete")
        assert b"ListItems: 1\r\nItems: 1\r\n" in one
        filename = await raw.action(
            "Getvar", {"Channel": two.name, "Variable": "MIXMONITOR_FILENAME"}
        )
        assert f"Value: /var/lib/asterisk/recordings/{two.uniqueid}.wav\r\n".encode() in filename
        linkedid = await raw.action(
            "Getvar", {"Channel": two.name, "Variable": "CHANNEL(linkedid)"}
        )
        assert f"Value: {call.linkedid}\r\n".encode() in linkedid
        stop = await raw.action("StopMixMonitor", {"Channel": two.name})
        assert stop.startswith(b"Response: Success\r\nActionID: ") and b"Message" not in stop
        hung = await raw.action("Hangup", {"Channel": two.name, "Cause": "16"})
        assert b"Message: Channel Hungup" in hung
        assert call.task is not None
        await call.task
        await raw.sync()
        assert b"Event: MixMonitorStop" in raw.data
        assert pbx.history[0].disposition == "answered"
        await raw.close()


async def test_shutdown_event_then_the_pbx_is_back_empty() -> None:
    async with running() as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        pbx.place_call("79160000007", "Кто-то", answered_by="101", talk_time=30)
        await raw.until(lambda data: b"Event: AgentConnect" in data)
        await pbx.shutdown()
        await raw.until(lambda _: raw.closed)
        await raw.close()
        shutdown = b"Event: Shutdown\r\nPrivilege: system,all\r\nShutdown: Cleanly\r\nRestart: True"
        assert raw.data.endswith(shutdown + b"\r\n\r\n")
        again = RawAmi(pbx.port)
        await again.connect()
        channels = await again.action("CoreShowChannels", complete="CoreShowChannelsComplete")
        assert b"ListItems: 0" in channels
        assert b"Uptime: 0\r\n" in again.data
        await again.close()
        assert isinstance(pbx, SimPbx)
