"""Typed actions (originate, queue members, hangup, variables, redirect, spy) over real
TCP against the simulated PBX, and what they change in the live picture.
"""

from __future__ import annotations

import pytest

from telephony.actions import AmiActions, SpyMode, escape_variable, spy_target, variable_headers
from telephony.codec import EncodeError
from telephony.errors import ActionFailed
from telephony.simpbx.session import split_app_args
from tests.telephony.kit_sim import RawAmi, running
from tests.telephony.test_ami_client import Collected, client_for, eventually


def test_variable_values_survive_asterisk_argument_splitting() -> None:
    for value in ("plain", "Doe, John", 'say "hi"', "back\\slash", "a=b,c=d", "Иван, Пётр"):
        header = variable_headers({"CNAME": value})[0][1]
        assert isinstance(header, str)
        (name_value,) = split_app_args(header)
        assert name_value == f"CNAME={value}"
    assert escape_variable("a,b") == "a\\,b"
    with pytest.raises(EncodeError):
        variable_headers({"BAD=NAME": "x"})


def test_spy_targets_do_not_match_longer_extensions() -> None:
    assert spy_target("PJSIP/101") == "PJSIP/101-"
    assert spy_target("Local/101@agents/n") == "Local/101@agents-"
    assert spy_target("PJSIP/101-0000002a") == "PJSIP/101-0000002a"
    with pytest.raises(EncodeError):
        spy_target("PJSIP/101,q")


async def test_click_to_call_originate_and_its_record() -> None:
    collected = Collected()
    async with running() as pbx, client_for(pbx, collected) as client:
        await client.wait_connected(5)
        actions = AmiActions(client)
        outcome = await actions.originate(
            "Local/101@agents/n",
            context="from-internal",
            exten="84951234567",
            caller_id='"Анна Смирнова" <101>',
            variables={"TRUBKA_CALL_ID": "c2c, 42"},
            channel_id="c2c-42-agent",
        )
        assert outcome.success and outcome.reason == 4 and outcome.reason_text == "answered"
        assert outcome.uniqueid == "c2c-42-agent"
        assert outcome.channel.startswith("Local/101@agents-")
        await pbx.wait_idle(5)
        await client.send_action("Ping")
        (record,) = collected.records
        assert record.direction.value == "outbound"
        assert record.called_number == "+74951234567"
        assert record.disposition.value == "answered"
        failed = await actions.originate("Local/999@no-such-context", application="Wait", data="1")
        assert not failed.success and failed.reason == 0 and failed.uniqueid is None
        with pytest.raises(ActionFailed, match="Originate failed"):
            await actions.originate(
                "Local/999@no-such-context", application="Wait", data="1", run_async=False
            )
        with pytest.raises(EncodeError):
            await actions.originate("Local/101@agents/n", context="x", exten="1\r\nAction: Hangup")


async def test_queue_member_actions_change_the_live_picture() -> None:
    async with running() as pbx, client_for(pbx) as client:
        await client.wait_connected(5)
        actions = AmiActions(client)
        state = client.pipeline.state
        assert await actions.queue_add(
            "sales", "Local/106@agents/n", member_name="Агент 106", paused=True, reason="login"
        ) == ("Added interface to queue")
        await eventually(lambda: "Local/106@agents" in state.agents)
        member = state.agents["Local/106@agents"].memberships["sales"]
        assert member.paused and member.paused_reason == "login" and member.name == "Агент 106"
        assert (
            await actions.queue_pause("Local/106@agents/n", False, queue="sales")
            == "Interface unpaused successfully"
        )
        await eventually(lambda: not state.agents["Local/106@agents"].memberships["sales"].paused)
        assert (
            await actions.queue_pause("Local/103@agents/n", True, reason="обед")
            == "Interface paused successfully"
        )
        await eventually(
            lambda: all(m.paused for m in state.agents["Local/103@agents"].memberships.values())
        )
        assert state.agents["Local/103@agents"].paused_reason == "обед"
        with pytest.raises(ActionFailed, match="Already there"):
            await actions.queue_add("sales", "Local/106@agents/n")
        assert (
            await actions.queue_remove("sales", "Local/106@agents/n")
            == "Removed interface from queue"
        )
        await eventually(lambda: "sales" not in state.agents["Local/106@agents"].memberships)
        with pytest.raises(ActionFailed, match="Not there"):
            await actions.queue_remove("sales", "Local/106@agents/n")


async def test_a_paused_agent_is_not_rung() -> None:
    collected = Collected()
    async with running() as pbx, client_for(pbx, collected) as client:
        await client.wait_connected(5)
        actions = AmiActions(client)
        await actions.queue_pause("Local/101@agents/n", True, reason="lunch")
        call = pbx.place_call("79160000010", "Кто-то", talk_time=0.05)
        assert call.task is not None
        await call.task
        await client.send_action("Ping")
        (record,) = collected.records
        assert record.agent_interface == "Local/102@agents/n"  # rrmemory skipped paused 101


async def test_hangup_variables_redirect_and_spy() -> None:
    collected = Collected()
    async with running() as pbx, client_for(pbx, collected) as client:
        await client.wait_connected(5)
        actions = AmiActions(client)
        observer = RawAmi(pbx.port)
        await observer.connect()
        call = pbx.place_call("79160000020", "Спорный", answered_by="101", talk_time=60)
        state = client.pipeline.state
        await eventually(
            lambda: (
                call.linkedid in state.calls and state.calls[call.linkedid].answered_at is not None
            )
        )
        two = call.two
        assert two is not None
        assert await actions.getvar("CALLERID(num)", channel=two.name) == "79160000020"
        await actions.setvar("TRUBKA_CONTACT_ID", "77", channel=two.name)
        assert await actions.getvar("TRUBKA_CONTACT_ID", channel=two.name) == "77"
        await actions.setvar("NIGHT_MODE", "on")
        assert await actions.getvar("NIGHT_MODE") == "on"
        assert await actions.getvar("NOT_SET_ANYWHERE") is None

        outcome = await actions.spy("Local/105@agents/n", "Local/101@agents/n", SpyMode.WHISPER)
        assert outcome.success
        await observer.until(lambda data: b"Event: ChanSpyStart" in data)
        assert b"Application: ChanSpy\r\nData: Local/101@agents-,bqESw\r\n" in observer.data
        assert b"SpyeeChannel: Local/101@agents-" in observer.data

        assert await actions.redirect(two.name, "transfer", "104") == "Redirect successful"
        await eventually(
            lambda: state.calls[call.linkedid].connected_agent == "Local/104@agents", timeout=5
        )
        assert await actions.hangup(two.name) == "Channel Hungup"
        assert call.task is not None
        await call.task
        await pbx.wait_idle(5)
        await client.send_action("Ping")
        record = next(r for r in collected.records if r.linkedid == call.linkedid)
        assert record.contact_id == 77
        assert [a.removesuffix("/n") for a in record.agents] == [
            "Local/101@agents",
            "Local/104@agents",
        ]
        assert record.disposition.value == "answered"
        with pytest.raises(ActionFailed, match="No such channel"):
            await actions.hangup(two.name)
        await observer.close()
