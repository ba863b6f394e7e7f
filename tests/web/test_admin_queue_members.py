"""Queue members administered from Trubka, against the simulated PBX over real AMI:
QueueAdd/QueuePenalty/QueueRemove reach the PBX, the memberships are re-applied after
Asterisk restarts (it runs without persistentmembers), a disabled user's socket closes
and they leave their queues, every change is in the audit log (JSON and CSV)."""

from __future__ import annotations

import csv
import io

import websockets

from tests.web.kit_admin import admin_sim, until
from tests.web.kit_panel import PASSWORD, Stack, panel_stack

NEWCOMER = "Local/106@agents/n"


def _sim_member(stack: Stack, queue: str, interface: str):  # type: ignore[no-untyped-def]
    return stack.pbx.engine.member(queue, interface)


def _live_penalty(stack: Stack, queue: str, interface: str) -> int | None:
    agent = stack.services.live.agent_for(interface)
    membership = agent.memberships.get(queue) if agent is not None else None
    return membership.penalty if membership is not None else None


async def test_members_reach_the_pbx_and_come_back_after_a_restart(database_url: str) -> None:
    async with panel_stack(database_url, config=admin_sim()) as stack:
        await stack.agent("boss", None, role="admin")
        async with stack.client("boss") as http:
            created = await http.post(
                "/api/users",
                json={
                    "login": "egor",
                    "name": "Егор Новиков",
                    "role": "agent",
                    "password": PASSWORD,
                    "interfaces": [NEWCOMER],
                },
            )
            assert created.status_code == 201, created.text
            egor = created.json()
            assert egor["pbx"] == {"applied": False, "warning": None, "sent": []}

            # add with a penalty: QueueAdd as a dynamic member
            added = await http.post(
                "/api/queues/support/members", json={"user_id": egor["id"], "penalty": 2}
            )
            assert added.status_code == 201, added.text
            assert added.json() == {"applied": True, "warning": None, "sent": ["QueueAdd"]}
            (action,) = stack.pbx.actions("QueueAdd")
            assert action.get("queue") == "support"
            assert action.get("interface") == NEWCOMER
            assert action.get("penalty") == "2"
            assert action.get("membername") == "Егор Новиков"
            member = _sim_member(stack, "support", NEWCOMER)
            assert member is not None and member.membership == "dynamic"
            await until(lambda: _live_penalty(stack, "support", NEWCOMER) == 2)

            # change the penalty: QueuePenalty, and Asterisk's QueueMemberPenalty comes back
            changed = await http.patch(
                f"/api/queues/support/members/{egor['id']}", json={"penalty": 5}
            )
            assert changed.status_code == 200, changed.text
            assert changed.json()["sent"] == ["QueuePenalty"]
            (penalty,) = stack.pbx.actions("QueuePenalty")
            assert (penalty.get("queue"), penalty.get("interface"), penalty.get("penalty")) == (
                "support",
                NEWCOMER,
                "5",
            )
            assert _sim_member(stack, "support", NEWCOMER).penalty == 5
            await until(lambda: _live_penalty(stack, "support", NEWCOMER) == 5)

            listing = (await http.get("/api/queues")).json()
            support = next(q for q in listing["items"] if q["name"] == "support")
            assert support["strategy"] == "rrmemory"
            mine = next(m for m in support["members"] if m["user_id"] == egor["id"])
            assert (mine["penalty"], mine["in_asterisk"], mine["managed"]) == (5, True, True)
            static = next(m for m in support["members"] if m["interface"].startswith("Local/101"))
            assert static["managed"] is False
            await until(lambda: stack.services.supervisor.queue_admin.persistent_members is False)
            assert (await http.get("/api/queues")).json()["persistent_members"] is False

            # Asterisk restarts without persistentmembers: it forgets the dynamic member,
            # Trubka adds it again (with its penalty) once it has reconnected
            await stack.pbx.shutdown(restart=True)
            assert _sim_member(stack, "support", NEWCOMER) is None
            await until(lambda: _sim_member(stack, "support", NEWCOMER) is not None)
            assert _sim_member(stack, "support", NEWCOMER).penalty == 5
            await until(lambda: _live_penalty(stack, "support", NEWCOMER) == 5)

            # remove: QueueRemove
            removed = await http.delete(f"/api/queues/support/members/{egor['id']}")
            assert removed.status_code == 200, removed.text
            assert removed.json()["sent"] == ["QueueRemove"]
            assert _sim_member(stack, "support", NEWCOMER) is None
            assert (await http.get("/api/queues/support/members")).json()["items"][0][
                "user_id"
            ] != egor["id"]

            # the audit log has each change with before → after, also as CSV
            log = (await http.get("/api/audit", params={"kind": "admin"})).json()
            actions = [e["action"] for e in log["entries"]]
            assert actions == ["member_remove", "member_penalty", "member_add", "user_create"]
            by_action = {e["action"]: e for e in log["entries"]}
            assert by_action["member_penalty"]["before"] == {"queue": "support", "penalty": 2}
            assert by_action["member_penalty"]["after"] == {"queue": "support", "penalty": 5}
            assert by_action["member_penalty"]["target"] == f"queue:support/user:{egor['id']}"
            assert by_action["user_create"]["after"]["interfaces"] == [NEWCOMER]
            assert "password" not in by_action["user_create"]["after"]
            assert {e["login"] for e in log["entries"]} == {"boss"}
            mine_only = await http.get("/api/audit", params={"target": f"user:{egor['id']}"})
            assert mine_only.json()["total"] == 4
            exported = await http.get("/api/audit", params={"kind": "admin", "format": "csv"})
            assert exported.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
            assert [r["action"] for r in rows] == actions
            assert '"penalty": 5' in rows[1]["after"]


async def test_a_disabled_user_loses_their_socket_and_their_queues(database_url: str) -> None:
    async with panel_stack(database_url, config=admin_sim()) as stack:
        await stack.agent("boss", None, role="admin")
        egor = await stack.agent("egor", "106")
        async with stack.client("boss") as admin, stack.client("egor") as http:
            added = await admin.post(
                "/api/queues/help/members", json={"user_id": egor.id, "penalty": 0}
            )
            assert added.status_code == 201, added.text
            assert _sim_member(stack, "help", NEWCOMER) is not None
            async with stack.socket(http) as ws:
                await ws.send('{"type": "ping"}')
                disabled = await admin.patch(
                    f"/api/users/{egor.id}", json={"version": egor.version, "active": False}
                )
                assert disabled.status_code == 200, disabled.text
                assert disabled.json()["pbx"]["sent"] == ["QueueRemove"]
                try:
                    while True:
                        await ws.recv()
                except websockets.ConnectionClosed as closed:
                    assert closed.rcvd is not None and closed.rcvd.code == 4401
            assert _sim_member(stack, "help", NEWCOMER) is None
            assert (await http.get("/api/session")).status_code == 401
            # history stays: the user and their membership are kept, enabling re-adds it
            user = await stack.services.crm.users.get(egor.id)
            assert user.active is False and user.queues == ("help",)
            enabled = await admin.patch(
                f"/api/users/{egor.id}", json={"version": user.version, "active": True}
            )
            assert enabled.json()["pbx"]["sent"] == ["QueueAdd"]
            assert _sim_member(stack, "help", NEWCOMER) is not None
            log = (await admin.get("/api/audit", params={"kind": "admin"})).json()
            assert [e["action"] for e in log["entries"]][:2] == ["user_enable", "user_disable"]
            assert log["entries"][1]["before"] == {"active": True}
            assert log["entries"][1]["after"] == {"active": False}


async def test_the_interface_is_checked_against_what_asterisk_knows(database_url: str) -> None:
    pjsip = admin_sim(channel_mode="pjsip")
    async with panel_stack(database_url, config=pjsip) as stack:
        await stack.agent("boss", None, role="admin")
        async with stack.client("boss") as http:

            async def check(interface: str) -> dict[str, object]:
                response = await http.get(
                    "/api/users/interface-check", params={"interface": interface}
                )
                assert response.status_code == 200, response.text
                return dict(response.json())

            known = await check("PJSIP/101")
            assert (known["known"], known["reason"]) == (True, "endpoint")
            unknown = await check("PJSIP/999")
            assert (unknown["known"], unknown["reason"]) == (False, "no_endpoint")
            assert stack.pbx.actions("PJSIPShowEndpoints")
            await stack.pbx.disconnect_ami()
            await until(lambda: stack.services.ami.status.state.value != "connected")
            down = await check("PJSIP/101")
            assert down["known"] is None  # a warning, not a refusal
            created = await http.post(
                "/api/users",
                json={
                    "login": "newbie",
                    "name": "Newbie",
                    "role": "agent",
                    "password": PASSWORD,
                    "interfaces": ["PJSIP/999"],
                },
            )
            assert created.status_code == 201, created.text


async def test_a_static_member_keeps_the_penalty_of_queues_conf(database_url: str) -> None:
    async with panel_stack(database_url, config=admin_sim()) as stack:
        await stack.agent("boss", None, role="admin")
        anna = await stack.agent("anna", "101")  # static in support (queues.conf)
        async with stack.client("boss") as http:
            added = await http.post(
                "/api/queues/support/members", json={"user_id": anna.id, "penalty": 0}
            )
            assert added.json() == {"applied": True, "warning": None, "sent": []}
            changed = await http.patch(
                f"/api/queues/support/members/{anna.id}", json={"penalty": 3}
            )
            assert changed.json()["sent"] == []
            assert "static" in changed.json()["warning"]
            assert stack.pbx.actions("QueuePenalty") == []
            assert stack.pbx.actions("QueueAdd") == []
            await stack.services.supervisor.queue_admin.reapply()
            assert stack.pbx.actions("QueuePenalty") == []
