"""From the simulated PBX to a playable recording: its MixMonitor events over real AMI, the
WAV files it writes into the spool, the worker converting them, the API streaming them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from crm.database import Database
from tests.kit_server import InProcess, free_port, sign_in
from tests.telephony.kit_sim import FAST
from trubka.app import build_app
from trubka.demo import start_demo_pbx
from trubka.settings import load_settings


async def test_simulated_calls_become_playable_recordings(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=database_url,
        recordings_dir=tmp_path / "store",
        recordings_spool=tmp_path / "spool",
        recordings_poll_interval=0.05,
        agi_enabled=True,
        agi_port=free_port(),
    )
    timing = replace(FAST, talk_time=(0.4, 0.6), no_answer_share=0.0, agent_hangup_share=0.5)
    pbx, pointed = await start_demo_pbx(settings, call_interval=0.2, timing=timing)
    try:
        app = build_app(pointed)
        services = app.state.services
        async with InProcess(app) as server, server.client() as http:
            await sign_in(http, services)
            worker = services.recordings.worker
            async with asyncio.timeout(30):
                while worker.stats.done < 2:
                    worker.progress.clear()
                    if worker.stats.done >= 2:
                        break
                    await worker.progress.wait()
                await services.drain_calls()
            items = (await http.get("/api/calls", params={"limit": 200})).json()["items"]
            done = [c for c in items if c["recording"] and c["recording"]["status"] == "done"]
            assert done, items
            call = done[0]
            assert call["recording_file"].startswith(str(pointed.recordings_spool))
            assert 0.3 < call["recording"]["duration_seconds"] < 1.0
            audio = await http.get(call["recording"]["url"], headers={"Range": "bytes=0-99"})
            assert audio.status_code == 206 and audio.headers["content-type"] == "audio/mpeg"
            player = (await http.get(f"/api/calls/{call['id']}/recording/player")).json()
            assert player["peaks"] and max(player["peaks"][0]) > 0.05  # the sim's tone
            page = await http.get(f"/calls/{call['id']}")
            assert page.status_code == 200 and "data-recording-call-id" in page.text
    finally:
        await pbx.stop()
