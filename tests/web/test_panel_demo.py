"""`trubka demo` feels alive: agent 101 gets screen pops with real CRM cards."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from crm.database import Database
from crm.demo_data import DEMO_PASSWORD, seed_demo
from tests.kit_server import LiveServer, free_port
from tests.telephony.kit_sim import FAST
from tests.web.kit_panel import next_message
from trubka.app import build_app
from trubka.demo import start_demo_pbx
from trubka.settings import load_settings


async def test_agent101_sees_cards_pop_in_the_demo(tmp_path: Path, sqlite_template: Path) -> None:
    import websockets

    shutil.copy(sqlite_template, tmp_path / "demo.db")
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    db = Database(url)
    await seed_demo(db, contacts=60)
    await db.dispose()
    settings = load_settings(
        database_url=url,
        recordings_spool=tmp_path / "spool",
        agi_enabled=True,
        agi_port=free_port(),
        wrapup_limit=0,  # pops one after another: no after-call hold between them
    )
    timing = replace(FAST, answer_delay=(0.3, 0.5), talk_time=(0.3, 0.5), patience=(5.0, 5.0))
    pbx, pointed = await start_demo_pbx(settings, call_interval=0.2, timing=timing)
    try:
        app = build_app(pointed)
        async with LiveServer(app) as server, server.client() as http:
            signed = await http.post(
                "/api/session", json={"login": "agent101", "password": DEMO_PASSWORD}
            )
            assert signed.status_code == 200
            cookie = f"trubka_session={http.cookies['trubka_session']}"
            headers = {"Cookie": cookie}
            async with websockets.connect(server.ws_url, additional_headers=headers) as ws:
                with_contact = None
                for _ in range(40):
                    pop = await next_message(ws, "screen_pop", timeout=20)
                    assert pop["agent_interface"].startswith("Local/101@agents")
                    # Some demo customers have no history (the seeded calls pick
                    # customers at random): look for one whose card shows it.
                    card = pop["card"]
                    if card and card["contact"] and card["last_calls"]:
                        with_contact = pop
                        break
                assert with_contact is not None, "no pop with a customer's card and history"
            # No new calls while Trubka shuts down: a call arriving meanwhile would leave
            # work (a FastAGI session, a record to store) for after the test's loop ends.
            pbx.stop_generator()
    finally:
        await pbx.stop()
