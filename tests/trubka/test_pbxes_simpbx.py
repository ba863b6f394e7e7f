"""Several Asterisk servers on the wire: two simulated PBXes (`a`, the first, and `b`)
feed one Trubka and one database (SQLite and PostgreSQL). Calls from both are stored with
their PBX, the same linkedid from both stays two calls, a customer calling PBX `a` whose
manager's phone is on PBX `b` is routed to what `a` dials for it (`b`'s template), and
the live view shows both PBXes, filterable."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from crm.access import Actor
from crm.call_records import CallRow
from crm.database import Database
from crm.linking import link_records
from crm.models import Role
from crm.schemas import ContactCreate
from kernel.agents import AgentState
from screenpop.hub import Client
from telephony.simpbx import AgentConfig, SimPbx
from tests.crm.kit_builders import call as history_call
from tests.kit_server import InProcess, free_port, sign_in
from tests.telephony.kit_sim import SECRET, USER, running, sim_config
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

A101, B201 = "Local/101@agents/n", "Local/201@agents/n"
AGENTS_A = (
    AgentConfig("101", "Анна Смирнова", ("support",)),
    AgentConfig("102", "Борис Иванов", ("support",)),
)
AGENTS_B = (AgentConfig("201", "Вера Соколова", ("support",)),)


async def _ignore(_text: str) -> None:
    return None


async def _ignore_close(_code: int, _reason: str) -> None:
    return None


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the live state has no event to await
            await asyncio.sleep(0.02)


async def _rows(db: Database) -> list[CallRow]:
    async with db.session() as session:
        return list((await session.scalars(select(CallRow).order_by(CallRow.id))).all())


async def _stored(db: Database, count: int) -> list[CallRow]:
    async with asyncio.timeout(10):
        while len(rows := await _rows(db)) < count:  # noqa: ASYNC110 - another writer stores them
            await asyncio.sleep(0.05)
    return rows


async def test_two_pbxes_feed_one_database(db: Database, database_url: str, tmp_path: Path) -> None:
    agi_port = free_port()
    rules = tmp_path / "routing.toml"
    rules.write_text("ring_seconds = 1\n", encoding="utf-8")
    agi = f"agi://127.0.0.1:{agi_port}/route"
    async with (
        running(sim_config(agents=AGENTS_A, agi_url=agi + "?pbx=a")) as pbx_a,
        running(sim_config(agents=AGENTS_B, agi_url=agi + "?pbx=b", seed=8)) as pbx_b,
    ):
        pbxes = [
            {"name": "a", "ami_port": pbx_a.port, "ami_user": USER, "ami_secret": SECRET},
            {
                "name": "b",
                "ami_port": pbx_b.port,
                "ami_user": USER,
                "ami_secret": SECRET,
                "dial": "PJSIP/{exten}@trunk-b",
                "dial_from": {"a": "Local/{exten}@to-pbx-b"},
            },
        ]
        settings = load_settings(
            database_url=database_url,
            pbxes=json.dumps(pbxes),
            agi_enabled=True,
            agi_port=agi_port,
            routing_rules=rules,
            routing_facts_timeout=3.0,
            ami_enabled=True,
            recordings_spool=tmp_path / "spool",
            wrapup_limit=0,
        )
        app = build_app(settings)
        services: Services = app.state.services
        async with InProcess(app) as server:
            await _scenario(services, server, pbx_a, pbx_b)


async def _scenario(services: Services, server: InProcess, pbx_a: SimPbx, pbx_b: SimPbx) -> None:
    states = services.pbx_states
    assert list(states) == ["a", "b"] and states["a"] is services.live
    await _until(
        lambda: (
            states["a"].agent_state(A101, time.time()) is AgentState.AVAILABLE
            and states["b"].agent_state(B201, time.time()) is AgentState.AVAILABLE
        )
    )

    # 1. The same linkedid on both PBXes: two calls, each with its PBX.
    floor = int(time.time()) + 1000
    for pbx in (pbx_a, pbx_b):
        pbx.engine._epoch_floor = floor  # same epoch and sequence: the same Uniqueids
        pbx.engine.seq = 7000
    on_a = pbx_a.place_call("79160000001", "Иван", patience=3.0, talk_time=0.1)
    on_b = pbx_b.place_call("79160000002", "Пётр", patience=3.0, talk_time=0.1)
    assert on_a.linkedid == on_b.linkedid
    await asyncio.gather(pbx_a.wait_idle(10), pbx_b.wait_idle(10))
    rows = await _stored(services.db, 2)
    by_pbx = {row.pbx: row for row in rows if row.linkedid == on_a.linkedid}
    assert set(by_pbx) == {"a", "b"}
    assert by_pbx["a"].caller_number == "+79160000001"
    assert by_pbx["b"].caller_number == "+79160000002"
    assert (by_pbx["b"].agent_interface or "").startswith("Local/201@agents")
    async with server.client() as http:
        await sign_in(http, services, login="boss", role="supervisor")
        calls = (await http.get("/api/calls")).json()
        items = calls["items"] if isinstance(calls, dict) else calls
        pbx_of = {c["caller_number"]: c.get("pbx") for c in items}
        assert pbx_of["+79160000002"] == "b"
        assert pbx_of["+79160000001"] == "a"

    # 2. A customer of Vera (her phone: 201 on PBX b) calls PBX a: a dials b's template.
    vera = await services.crm.users.create(
        login="vera",
        name="Вера Соколова",
        role=Role.AGENT,
        password="long password",
        interfaces=[B201],
    )
    await services.crm.contacts.create(
        ContactCreate(name="Олег", phones=["+79161112233"], owner_id=vera.id), Actor.system()
    )
    history = [history_call("+79161112233", agent=B201, ago=2 * 86400)]
    await services.calls.save(history)
    await link_records(services.db, history)
    routed = pbx_a.place_call("79161112233", "Олег", patience=3.0, talk_time=0.1)
    await pbx_a.wait_idle(10)
    assert routed.intended.routed_agent == "Local/201@to-pbx-b"  # what PBX a can dial
    rows = await _stored(services.db, 4)
    (row,) = [r for r in rows if r.linkedid == routed.linkedid]
    assert (row.pbx, row.routed_by) == ("a", "previous-manager")
    # Asked from PBX b itself, the same customer gets Vera's own phone.
    decision = await services.router.route("+79161112233", "100", pbx="b")
    assert decision.agent == B201

    # 3. Vera's phone on PBX b rings for a call of b: her pop comes from b's screen pop.
    socket = Client(user_id=vera.id, role="agent", send_text=_ignore, close=_ignore_close)
    services.hub.register(socket)
    assert services.pbx_edges is not None
    await services.pbx_edges.extras[0].agents.refresh()  # Vera is known to b's pop
    rung = pbx_b.place_call("79160000005", "Анна", patience=3.0, talk_time=0.1)
    await pbx_b.wait_idle(10)
    pops = []
    while not socket.queue.empty():
        message = json.loads(socket.queue.get_nowait())
        if message["type"] == "screen_pop":
            pops.append(message)
    assert [(p["linkedid"], p["caller_number"]) for p in pops[:1]] == [
        (rung.linkedid, "+79160000005")
    ]
    assert pops[0]["agent_interface"].startswith("Local/201@agents")
    # Her panel reads her state on PBX b; a new socket of hers is told it by b's pop.
    async with server.client() as http:
        signed = await http.post(
            "/api/session", json={"login": "vera", "password": "long password"}
        )
        assert signed.status_code == 200
        (mine,) = (await http.get("/api/panel/state")).json()["agents"]
        assert (mine["agent_interface"], mine["state"]) == (B201, "available")
    fresh = Client(user_id=vera.id, role="agent", send_text=_ignore, close=_ignore_close)
    services.hub.register(fresh)
    services.notifier.welcome(fresh)  # as web/ws.py does: the first PBX's, then the others'
    for notifier in services.pbx_notifiers:
        notifier.welcome(fresh)
    told = [json.loads(fresh.queue.get_nowait()) for _ in range(fresh.queue.qsize())]
    said = [(m["agent_interface"], m["state"]) for m in told if m["type"] == "agent_state"]
    assert said[-1] == ("Local/201@agents", "available")

    # 4. The live view: both PBXes, or one.
    async with server.client() as http:
        await sign_in(http, services, login="boss", role="supervisor")
        every = (await http.get("/api/live")).json()
        assert every["pbxes"] == ["a", "b"]
        agents = {(a["pbx"], a["interface"]) for a in every["agents"]}
        assert ("a", "Local/101@agents") in agents and ("b", "Local/201@agents") in agents
        assert {q["pbx"] for q in every["queues"] if q["queue"] == "support"} == {"a", "b"}
        only_b = (await http.get("/api/live", params={"pbx": "b"})).json()
        assert only_b["pbxes"] == ["a", "b"]
        assert {a["pbx"] for a in only_b["agents"]} == {"b"}
        assert {a["interface"] for a in only_b["agents"]} == {"Local/201@agents"}
        assert {q["pbx"] for q in only_b["queues"]} == {"b"}
        refused = await http.get("/api/live", params={"pbx": "zzz"})
        assert refused.status_code == 422
        assert refused.json()["field"] == "pbx"
        page = await http.get("/supervisor", params={"pbx": "b"})
        assert page.status_code == 200
        assert '<option value="b" selected>b</option>' in page.text
        assert 'data-agent="Local/201@agents"' in page.text
        assert 'data-agent="Local/101@agents"' not in page.text
        assert '"pbx": "b"' in page.text or '"pbx":"b"' in page.text  # follows b's feed
        routed_json = await http.get(
            "/api/route", params={"caller": "+79161112233", "did": "100", "pbx": "a"}
        )
        assert routed_json.json()["agent"] == "Local/201@to-pbx-b"  # the CURL() variant too
        status = (await http.get("/api/status")).json()
        assert status["ami"]["state"] == "connected"
        assert status["pbxes"]["b"]["state"] == "connected"
        first = await http.get("/supervisor")
        assert '<option value="a" selected>a</option>' in first.text
        assert 'data-agent="Local/101@agents"' in first.text

        # 5. A call waiting on PBX b is among the live calls of /api/status, with its PBX.
        pbx_b.set_agents_answer(False)
        waiting = pbx_b.place_call("79160000006", "Нина", patience=2.0)
        await _until(lambda: waiting.linkedid in states["b"].calls)
        rows = (await http.get("/api/status")).json()["live_calls"]
        assert {(r["linkedid"], r.get("pbx")) for r in rows} == {(waiting.linkedid, "b")}
        await pbx_b.wait_idle(10)

        # 6. The supervisor page offers actions on PBX b's agents and names b in them.
        page_b = await http.get("/supervisor", params={"pbx": "b"})
        assert "first PBX only" not in page_b.text
        assert '"actions": true' in page_b.text and '"pbx_name": "b"' in page_b.text
        pbx_b.set_agents_answer(True)
        paused = await http.post(
            "/api/supervisor/pause",
            json={"agent": "Local/201@agents", "reason": "lunch", "pbx": "b"},
        )
        assert paused.status_code == 200, paused.text
        await _until(lambda: states["b"].agent_state(B201, time.time()) is AgentState.PAUSED)
        elsewhere = await http.post(
            "/api/supervisor/pause",
            json={"agent": "Local/201@agents", "paused": False, "pbx": "a"},
        )
        assert elsewhere.status_code == 404
        assert (elsewhere.json()["code"], elsewhere.json()["field"]) == ("agent_not_found", "pbx")
        unknown = await http.post(
            "/api/supervisor/pause", json={"agent": "Local/201@agents", "pbx": "zzz"}
        )
        assert unknown.status_code == 422 and unknown.json()["field"] == "pbx"
        assert states["b"].agent_state(B201, time.time()) is AgentState.PAUSED  # nothing sent
        back = await http.post(
            "/api/supervisor/pause",
            json={"agent": "Local/201@agents", "paused": False, "pbx": "b"},
        )
        assert back.status_code == 200, back.text
        await _until(lambda: states["b"].agent_state(B201, time.time()) is AgentState.AVAILABLE)

        # 7. The wallboard: every PBX's queues, or the one ?pbx= names.
        board = (await http.get("/wallboard")).text
        assert 'data-queue="a/support"' in board and 'data-queue="b/support"' in board
        assert '<option value="" selected>' in board and 'id="live-boards"' in board
        board_b = (await http.get("/wallboard", params={"pbx": "b"})).text
        assert 'data-queue="b/support"' in board_b and 'data-queue="a/support"' not in board_b
        assert '<option value="b" selected>b</option>' in board_b
