"""The simulated PBX answers the actions of the administration as Asterisk 22 does:
QueuePenalty (apps/app_queue.c: the acknowledgement, the error text, and the
`QueueMemberPenalty` event with the fields of the other `QueueMember*` events),
PJSIPShowEndpoints (`EndpointList` items) and GetConfig (queues.conf's
`persistentmembers`)."""

from __future__ import annotations

from dataclasses import replace

from tests.telephony.kit_sim import RawAmi, running, sim_config

MEMBER_FIELDS = (
    b"Event: QueueMemberPenalty\r\nPrivilege: agent,all\r\nQueue: sales\r\n"
    b"MemberName: Agent 106\r\nInterface: Local/106@agents/n\r\n"
)


async def test_queue_penalty_acknowledged_and_announced() -> None:
    async with running() as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        await raw.action(
            "QueueAdd",
            {"Queue": "sales", "Interface": "Local/106@agents/n", "MemberName": "Agent 106"},
        )
        done = await raw.action(
            "QueuePenalty", {"Queue": "sales", "Interface": "Local/106@agents/n", "Penalty": "3"}
        )
        assert b"Response: Success\r\n" in done
        assert b"Message: Interface penalty set successfully\r\n" in done
        data = await raw.until(lambda d: b"Event: QueueMemberPenalty\r\n" in d)
        assert MEMBER_FIELDS in data
        event = data[data.index(b"Event: QueueMemberPenalty") :].split(b"\r\n\r\n")[0]
        assert b"\r\nMembership: dynamic\r\nPenalty: 3\r\n" in event
        assert b"\r\nWrapuptime: " in event  # the last field, as in QueueMemberAdded
        assert pbx.engine.member("sales", "Local/106@agents/n").penalty == 3

        missing = await raw.action("QueuePenalty", {"Interface": "Local/106@agents/n"})
        assert b"Message: Need 'Interface' and 'Penalty' parameters." in missing
        nobody = await raw.action(
            "QueuePenalty", {"Queue": "sales", "Interface": "Local/999@agents/n", "Penalty": "1"}
        )
        assert b"Response: Error\r\n" in nobody
        assert b"Message: Invalid interface, queuename or penalty" in nobody
        await raw.close()


async def test_endpoints_and_the_queues_configuration() -> None:
    async with running(replace(sim_config(), channel_mode="pjsip")) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        endpoints = await raw.action("PJSIPShowEndpoints", complete="EndpointListComplete")
        assert b"Message: A listing of Endpoints follows, presented as EndpointList events" in (
            endpoints
        )
        assert b"Event: EndpointList\r\n" in endpoints
        assert b"ObjectType: endpoint\r\nObjectName: 101\r\nTransport: " in endpoints
        assert b"DeviceState: Not in use\r\n" in endpoints
        config = await raw.action("GetConfig", {"Filename": "queues.conf", "Category": "general"})
        assert b"Category-000000: general\r\nLine-000000-000000: persistentmembers=no\r\n" in (
            config
        )
        missing = await raw.action("GetConfig", {"Filename": "nonexistent.conf"})
        assert b"Message: Config file not found" in missing
        await raw.close()
    async with running(replace(sim_config(), persistent_members=True)) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        none = await raw.action("PJSIPShowEndpoints")
        assert b"Response: Error\r\n" in none and b"No endpoints found" in none
        config = await raw.action("GetConfig", {"Filename": "queues.conf"})
        assert b"Line-000000-000000: persistentmembers=yes\r\n" in config
        assert b"Category-000001: " in config  # the queues follow [general]
        await raw.close()
