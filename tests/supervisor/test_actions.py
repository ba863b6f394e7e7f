"""Supervisor actions over HTTP, reaching the simulated PBX as the right AMI actions (the
PBX records what it received), checked against the role, written to the audit log; an
action on something that no longer exists changes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from crm.database import Database
from telephony.simpbx import SimPbx
from tests.supervisor.kit_live import PASSWORD, Running, quiet_sim, sign_in, trubka
from tests.telephony.kit_sim import running

SUPPORT = "support"
ANNA = "Local/101@agents"
CHANGING = ("originate", "queuepause", "queueremove", "queueadd", "hangup")


def headers(action: Any) -> list[tuple[str, str]]:
    """What the PBX received, in order, without the ActionID."""
    return [(k, v) for k, v in action.pairs if k != "actionid"]


def changes_sent(pbx: SimPbx) -> int:
    return sum(1 for a in pbx.actions() if a.name.lower() in CHANGING)


async def talking(t: Running, number: str, agent: str = "101") -> str:
    """A caller answered by `agent` and talking for long; returns the linkedid."""
    async with t.socket() as ws:
        t.pbx.place_call(number, "Клиент", queue=SUPPORT, answered_by=agent, talk_time=120)
        t.pbx.set_agent_answers(agent, True)
        key = f"Local/{agent}@agents"
        model = await ws.until(
            lambda m: (m.agents[key]["current_call"] or {}).get("state") == "talking"
        )
        return str(model.agents[key]["current_call"]["linkedid"])


async def audit(t: Running) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=t.server.url, timeout=10) as admin:
        await sign_in(admin, t.services, "root", "admin")
        response = await admin.get("/api/audit")
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries


async def test_listen_whisper_barge_originate_the_supervisors_own_phone_into_chanspy(
    db: Database, database_url: str
) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as t:
            linkedid = await talking(t, "74951110030")
            call = t.services.live.calls[linkedid]
            [spied] = [
                c.name
                for c in call.channels.values()
                if c.name.startswith("Local/101@agents-") and c.name.endswith(";1")
            ]
            for mode, options in (("listen", "bqESu"), ("whisper", "bqESwu"), ("barge", "bqESBu")):
                response = await t.http.post(
                    "/api/supervisor/spy", json={"agent": ANNA, "mode": mode}
                )
                assert response.status_code == 200, response.text
                body = response.json()
                assert (body["action"], body["channel"], body["phone"]) == (
                    mode,
                    spied,
                    "Local/200@agents/n",
                )
                originate = pbx.actions("Originate")[-1]
                label = mode.title()
                sent = headers(originate)
                channel_id = dict(sent).get("channelid", "")
                assert channel_id.startswith("trubka-spy-")  # never a call record
                assert body["uniqueid"] == channel_id
                assert [h for h in sent if h[0] != "channelid"] == [
                    ("action", "Originate"),
                    ("channel", "Local/200@agents/n"),
                    ("application", "ChanSpy"),
                    ("data", f"{spied},{options}"),
                    ("callerid", f'"{label}: Анна Смирнова" <74951110030>'),
                    ("timeout", "20000"),
                    ("async", "true"),
                ]
            entries = await audit(t)
            assert [e["action"] for e in entries[:3]] == ["barge", "whisper", "listen"]
            for entry in entries[:3]:
                assert entry["outcome"] == "done" and entry["login"] == "boss"
                assert entry["agent"] == ANNA and entry["agent_name"] == "Анна Смирнова"
                assert entry["linkedid"] == linkedid and entry["channel"] == spied


async def test_pause_unpause_and_log_out_of_a_queue(db: Database, database_url: str) -> None:
    async with running(quiet_sim()) as pbx, trubka(database_url, pbx) as t, t.socket() as ws:
        await ws.until(lambda m: m.agents[ANNA]["state"] == "available")
        response = await t.http.post(
            "/api/supervisor/pause", json={"agent": ANNA, "reason": "lunch"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["message"] == "Interface paused successfully"
        assert headers(pbx.actions("QueuePause")[-1]) == [
            ("action", "QueuePause"),
            ("interface", "Local/101@agents/n"),
            ("paused", "true"),
            ("reason", "lunch"),
        ]
        model = await ws.until(lambda m: m.agents[ANNA]["state"] == "paused")
        assert model.agents[ANNA]["paused_reason"] == "lunch"
        assert model.queue(SUPPORT)["counts"]["paused"] == 1

        response = await t.http.post("/api/supervisor/pause", json={"agent": ANNA, "paused": False})
        assert response.status_code == 200, response.text
        assert headers(pbx.actions("QueuePause")[-1]) == [
            ("action", "QueuePause"),
            ("interface", "Local/101@agents/n"),
            ("paused", "false"),
        ]
        await ws.until(lambda m: m.agents[ANNA]["state"] == "available")

        # in one queue only
        response = await t.http.post(
            "/api/supervisor/pause",
            json={"agent": "Local/103@agents", "queue": "sales", "reason": "training"},
        )
        assert response.status_code == 200, response.text
        assert headers(pbx.actions("QueuePause")[-1])[:2] == [
            ("action", "QueuePause"),
            ("queue", "sales"),
        ]
        model = await ws.until(lambda m: m.queue("sales")["counts"]["paused"] == 1)
        assert model.queue(SUPPORT)["counts"]["paused"] == 0

        # a dynamic member is logged out; a static one (queues.conf) cannot be
        assert t.services.pbx is not None
        await t.services.pbx.queue_add(SUPPORT, "Local/104@agents/n")
        await ws.until(lambda m: m.agents["Local/104@agents"]["queues"] == ["sales", SUPPORT])
        response = await t.http.post(
            "/api/supervisor/queue-remove", json={"agent": "Local/104@agents", "queue": SUPPORT}
        )
        assert response.status_code == 200, response.text
        assert headers(pbx.actions("QueueRemove")[-1]) == [
            ("action", "QueueRemove"),
            ("queue", SUPPORT),
            ("interface", "Local/104@agents/n"),
        ]
        await ws.until(lambda m: m.agents["Local/104@agents"]["queues"] == ["sales"])
        response = await t.http.post(
            "/api/supervisor/queue-remove", json={"agent": ANNA, "queue": SUPPORT}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "static_member"
        entries = await audit(t)
        assert [(e["action"], e["outcome"]) for e in entries[:5]] == [
            ("queue_remove", "failed"),
            ("queue_remove", "done"),
            ("pause", "done"),
            ("unpause", "done"),
            ("pause", "done"),
        ]
        assert entries[4]["reason"] == "lunch" and entries[2]["queue"] == "sales"


async def test_hang_up_a_stuck_call(db: Database, database_url: str) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as t, t.socket() as ws:
            linkedid = await talking(t, "74951110040")
            call = t.services.live.calls[linkedid]
            customer = [c.name for c in call.channels.values() if c.leg == call.customer_leg]
            response = await t.http.post("/api/supervisor/hangup", json={"linkedid": linkedid})
            assert response.status_code == 200, response.text
            hangups = pbx.actions("Hangup")
            assert headers(hangups[0]) == [
                ("action", "Hangup"),
                ("channel", customer[0]),
                ("cause", "16"),
            ]
            assert response.json()["channels"][0] == customer[0]
            model = await ws.until(
                lambda m: (
                    m.agents[ANNA]["current_call"] is None and m.totals["calls_in_progress"] == 0
                )
            )
            assert model.agents[ANNA]["state"] == "available"
            [entry] = [e for e in await audit(t) if e["action"] == "hangup"]
            assert entry["outcome"] == "done" and entry["linkedid"] == linkedid


async def test_actions_on_what_no_longer_exists_change_nothing(
    db: Database, database_url: str
) -> None:
    async with running(quiet_sim()) as pbx, trubka(database_url, pbx) as t:
        before = changes_sent(pbx)
        cases = [
            ("spy", {"agent": "Local/999@agents", "mode": "listen"}, 404, "agent_not_found"),
            ("spy", {"agent": ANNA, "mode": "listen"}, 409, "agent_not_on_call"),
            ("spy", {"agent": ANNA, "mode": "shout"}, 422, "invalid"),
            ("pause", {"agent": "PJSIP/999", "reason": "lunch"}, 404, "agent_not_found"),
            ("pause", {"agent": ANNA, "queue": "sales"}, 404, "not_a_member"),
            ("pause", {"agent": ANNA, "reason": "a\x07b"}, 422, "invalid"),
            ("queue-remove", {"agent": ANNA, "queue": "sales"}, 404, "not_a_member"),
            ("hangup", {"linkedid": "1795717000.999"}, 404, "call_not_found"),
            ("hangup", {"channel": "PJSIP/trunk-00000999"}, 404, "channel_not_found"),
            ("hangup", {}, 422, "invalid"),
        ]
        for path, body, status, code in cases:
            response = await t.http.post(f"/api/supervisor/{path}", json=body)
            assert (response.status_code, response.json()["code"]) == (status, code), (
                path,
                body,
                response.text,
            )
            assert response.json()["message"]
        assert changes_sent(pbx) == before  # nothing reached the PBX
        entries = await audit(t)
        assert len(entries) == len(cases)
        assert {e["outcome"] for e in entries} == {"refused"}
        assert entries[-1]["agent"] == "Local/999@agents"


async def test_who_may_act_and_without_a_phone_or_a_pbx(db: Database, database_url: str) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx, login="nophone", interfaces=()) as t:
            linkedid = await talking(t, "74951110050")
            response = await t.http.post(
                "/api/supervisor/spy", json={"agent": ANNA, "mode": "listen"}
            )
            assert (response.status_code, response.json()["code"]) == (422, "no_phone")
            async with httpx.AsyncClient(base_url=t.server.url, timeout=10) as agent:
                await sign_in(agent, t.services, "agent7", "agent", ("Local/107@agents/n",))
                for path, body in (
                    ("pause", {"agent": ANNA}),
                    ("hangup", {"linkedid": linkedid}),
                    ("spy", {"agent": ANNA, "mode": "listen"}),
                ):
                    response = await agent.post(f"/api/supervisor/{path}", json=body)
                    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
                response = await agent.post(
                    "/api/supervisor/spy",
                    json={"agent": ANNA, "mode": "listen", "phone": "Local/107@agents/n"},
                )
                assert response.status_code == 403
                assert (await agent.get("/api/audit")).status_code == 403
            assert (await t.http.get("/api/audit")).status_code == 403  # supervisors: no
            response = await t.http.post(
                "/api/supervisor/pause", content=b"agent=x", headers={"Content-Type": "text/plain"}
            )
            assert response.status_code == 415
            async with httpx.AsyncClient(base_url=t.server.url, timeout=10) as other:
                await sign_in(other, t.services, "boss2", "supervisor", ("Local/201@agents/n",))
                response = await other.post(
                    "/api/supervisor/spy",
                    json={"agent": ANNA, "mode": "listen", "phone": "Local/102@agents/n"},
                )
                assert (response.status_code, response.json()["code"]) == (422, "not_your_phone")
            # the PBX goes away: a clear 503, written down as failed
            await pbx.kill()
            response = await t.http.post("/api/supervisor/pause", json={"agent": ANNA})
            assert (response.status_code, response.json()["code"]) == (503, "pbx_unavailable")
            assert (await audit(t))[0]["outcome"] == "failed"
            await pbx.restart(generate=False)


def test_the_password_is_shared() -> None:
    assert PASSWORD  # the helper's users all sign in with it
