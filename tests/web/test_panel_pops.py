"""Screen pops end to end: the simulated PBX over real AMI, Trubka, real WebSockets.

Ring-all queues pop for every ringing agent and withdraw when one answers or the caller
hangs up; a call routed by FastAGI to the contact's manager pops with the reason; the
user directory matches interfaces whatever their case.
"""

from __future__ import annotations

from typing import Any

from crm.access import Actor
from crm.schemas import ContactCreate
from tests.web.kit_panel import Stack, drain_until_pong, next_message, panel_stack


async def _with_card(ws: Any, linkedid: str) -> dict[str, Any]:
    """The pop, once its card is there (the first send, or the update that follows)."""
    pop = await next_message(ws, "screen_pop", linkedid=linkedid)
    while pop["card"] is None:
        pop = await next_message(ws, "screen_pop", linkedid=linkedid)
    return pop


async def _contact(stack: Stack, name: str, number: str, owner_id: int | None = None) -> int:
    view = await stack.services.crm.contacts.create(
        ContactCreate(name=name, phones=[number], owner_id=owner_id), Actor.system()
    )
    return int(view["id"])


async def test_ring_all_pops_every_ringing_agent_and_withdraws_when_one_answers(
    database_url: str,
) -> None:
    async with panel_stack(database_url) as stack:
        users = {
            login: await stack.agent(login, ext)
            for login, ext in (
                ("vika", "103"),
                ("grisha", "104"),
                ("dasha", "105"),
                ("anna", "101"),
            )
        }
        contact_id = await _contact(stack, "Пётр <b>Клиент</b>", "+74951110005")
        async with (
            stack.client("vika") as h3,
            stack.client("grisha") as h4,
            stack.client("dasha") as h5,
            stack.client("anna") as h1,
            stack.socket(h3) as w3,
            stack.socket(h4) as w4,
            stack.socket(h5) as w5,
            stack.socket(h1) as w1,
        ):
            call = stack.pbx.place_call("84951110005", "Petr", queue="sales")
            linkedid = call.linkedid
            for ws in (w3, w4, w5):
                pop = await _with_card(ws, linkedid)
                assert pop["caller_number"] == "+74951110005"
                assert pop["caller_number_display"] == "8 (495) 111-00-05"
                assert pop["queue"] == "sales"
                assert pop["contact"]["id"] == contact_id
                assert pop["contact"]["name"] == "Пётр <b>Клиент</b>"
                assert pop["card"]["display"]["+74951110005"] == "8 (495) 111-00-05"
            stack.pbx.answer("104")
            answered = await next_message(w4, "call_answered", linkedid=linkedid)
            assert answered["contact"]["id"] == contact_id
            assert answered["card"]["contact"]["id"] == contact_id
            for ws in (w3, w5):
                withdrawn = await next_message(ws, "screen_pop_withdrawn", linkedid=linkedid)
                assert withdrawn["reason"] == "answered_elsewhere"
            assert stack.services.notifier.current_call(users["grisha"].id) is not None
            stack.pbx.hang_up(linkedid)
            ended = await next_message(w4, "call_ended", linkedid=linkedid)
            assert ended["disposition"] == "answered"
            assert stack.services.notifier.participants(linkedid) == {users["grisha"].id}
            assert stack.services.notifier.current_call(users["grisha"].id) is None
            # Anna (another queue) heard nothing of this call.
            assert all(m.get("linkedid") != linkedid for m in await drain_until_pong(w1))


async def test_withdrawn_from_everyone_when_the_caller_hangs_up(database_url: str) -> None:
    async with panel_stack(database_url) as stack:
        for login, ext in (("vika", "103"), ("grisha", "104")):
            await stack.agent(login, ext)
        async with (
            stack.client("vika") as h3,
            stack.client("grisha") as h4,
            stack.socket(h3) as w3,
            stack.socket(h4) as w4,
        ):
            call = stack.pbx.place_call("+79261234567", "<script>alert(1)</script>", queue="sales")
            for ws in (w3, w4):
                pop = await next_message(ws, "screen_pop", linkedid=call.linkedid)
                assert pop["caller_name"] == "<script>alert(1)</script>"  # data, escaped by pages
            stack.pbx.hang_up(call.linkedid)
            for ws in (w3, w4):
                withdrawn = await next_message(ws, "screen_pop_withdrawn", linkedid=call.linkedid)
                assert withdrawn["reason"] == "caller_hung_up"


async def test_a_call_routed_to_the_contacts_manager_pops_with_the_reason(
    database_url: str,
) -> None:
    async with panel_stack(database_url, agi=True) as stack:
        boris = await stack.agent("boris", "102")
        await stack.agent("anna", "101")
        contact_id = await _contact(stack, "Ольга Клиентова", "+79161112233", owner_id=boris.id)
        async with stack.client("boris") as http, stack.socket(http) as ws:
            call = stack.pbx.place_call("89161112233", "", queue="support")
            pop = await _with_card(ws, call.linkedid)
            assert pop["agent_interface"].startswith("Local/102@agents")
            assert pop["queue"] is None  # a direct Dial, not the queue
            assert pop["routing_reason"] == "owner Boris: responsible manager"
            assert pop["routing_reason_localized"] == {
                "en": pop["routing_reason"],
                "ru": "ответственный Boris",
            }
            assert pop["contact"]["id"] == contact_id
            assert pop["card"]["owner"]["id"] == boris.id
            stack.pbx.answer("102")
            answered = await next_message(ws, "call_answered", linkedid=call.linkedid)
            assert answered["routing_reason"] == pop["routing_reason"]
            assert answered["routing_reason_localized"] == pop["routing_reason_localized"]


async def test_interfaces_match_whatever_their_case_and_state_comes_at_once(
    database_url: str,
) -> None:
    async with panel_stack(database_url) as stack:
        user = await stack.services.crm.users.create(
            login="lower",
            name="Lower",
            role="agent",
            password="correct horse",
            interfaces=["local/101@agents/n"],
        )
        await stack.services.agent_directory.refresh()
        async with stack.client("lower") as http, stack.socket(http) as ws:
            state = await next_message(ws, "agent_state")
            assert state["state"] == "available"
            call = stack.pbx.place_call("+74951110001", "Иван", queue="support")
            pop = await next_message(ws, "screen_pop", linkedid=call.linkedid)
            assert pop["agent_interface"] == "Local/101@agents/n"
            assert (await next_message(ws, "agent_state"))["state"] == "ringing"
        # A reconnect while it still rings: the pop and the state again, at once.
        async with stack.client("lower") as http, stack.socket(http) as ws:
            assert (await next_message(ws, "agent_state"))["state"] == "ringing"
            assert (await next_message(ws, "screen_pop"))["linkedid"] == call.linkedid
            stack.pbx.answer("101")
            await next_message(ws, "call_answered", linkedid=call.linkedid)
        async with stack.client("lower") as http, stack.socket(http) as ws:
            again = await next_message(ws, "call_answered", linkedid=call.linkedid)
            assert again["agent_interface"] == "Local/101@agents/n"
        assert stack.services.notifier.current_call(user.id) is not None
