"""Live figures after a restart: of Trubka (today's numbers from the stored records, the
calls in progress from the AMI resync) and of Asterisk (the simulated PBX killed and
started again: what it lost is closed, nobody is left waiting or talking)."""

from __future__ import annotations

from datetime import datetime

from crm.database import Database
from tests.supervisor.kit_live import LiveModel, quiet_sim, trubka
from tests.telephony.kit_sim import running

SUPPORT = "support"
ANNA = "Local/101@agents"


def numbers(model: LiveModel) -> list[str]:
    return [w["caller_number"] for w in model.queues[SUPPORT]["waiting"]]


async def test_after_trubka_restarts(db: Database, database_url: str) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as first, first.socket() as ws:
            # one call answered and over, stored before the restart
            pbx.place_call("74951110010", "Первый", queue=SUPPORT, answered_by="102",
                           talk_time=0.2)  # fmt: skip
            pbx.set_agent_answers("102", True)
            await ws.until(lambda m: m.today(SUPPORT).get("answered") == 1, timeout=15)
            # one caller talking to 101, one waiting, across the restart
            pbx.place_call("74951110012", "Говорит", queue=SUPPORT, answered_by="101",
                           talk_time=120)  # fmt: skip
            pbx.set_agent_answers("101", True)
            await ws.until(lambda m: m.agents[ANNA]["state"] == "on_call")
            pbx.place_call("74951110011", "Ждёт", queue=SUPPORT, answered_by="nobody",
                           patience=120)  # fmt: skip
            model = await ws.until(
                lambda m: numbers(m) == ["+74951110011"] and m.totals["longest_wait_seconds"] > 1.5
            )  # the queue rings the other agents meanwhile: updates come
            joined = datetime.fromisoformat(model.queue(SUPPORT)["waiting"][0]["joined_at"])
        # Trubka is down for a moment; Asterisk carries on
        async with trubka(database_url, pbx) as second, second.socket() as ws:
            model = await ws.until(
                lambda m: (
                    numbers(m) == ["+74951110011"]
                    and m.agents[ANNA]["state"] == "on_call"
                    and m.today(SUPPORT).get("answered") == 1
                )
            )
            assert model.fulls == 1
            [waiting] = model.queue(SUPPORT)["waiting"]
            assert waiting["position"] == 1
            # from the PBX's Wait (whole seconds), not from the restart
            again = datetime.fromisoformat(waiting["joined_at"])
            assert abs((again - joined).total_seconds()) <= 1.1
            assert waiting["wait_seconds"] >= 0.5
            call = model.agents[ANNA]["current_call"]
            assert call["caller_number"] == "+74951110012" and call["state"] == "talking"
            assert model.totals["calls_in_progress"] == 2 and model.totals["talking"] == 1
            today = model.today(SUPPORT)
            assert (today["offered"], today["answered"], today["abandoned"]) == (1, 1, 0)
            live = (await second.http.get("/api/live")).json()
            assert [w["caller_number"] for w in live["queues"][-1]["waiting"]] == ["+74951110011"]


async def test_after_asterisk_restarts(db: Database, database_url: str) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as t, t.socket() as ws:
            pbx.place_call("74951110022", "Говорит", queue=SUPPORT, answered_by="101",
                           talk_time=120)  # fmt: skip
            pbx.set_agent_answers("101", True)
            await ws.until(lambda m: m.agents[ANNA]["state"] == "on_call")
            pbx.place_call("74951110021", "Ждёт", queue=SUPPORT, answered_by="nobody",
                           patience=120)  # fmt: skip
            await ws.until(lambda m: numbers(m) == ["+74951110021"])
            await pbx.kill()  # Asterisk dies: every channel is lost, no events
            await pbx.restart(generate=False)
            model = await ws.until(
                lambda m: (
                    numbers(m) == []
                    and m.agents[ANNA]["state"] == "available"
                    and m.today(SUPPORT).get("offered") == 2
                ),
                timeout=20,
            )
            assert model.totals == {
                "calls_in_progress": 0,
                "talking": 0,
                "waiting": 0,
                "longest_wait_seconds": 0.0,
                "longest_wait_since": None,
            }
            today = model.today(SUPPORT)
            assert today["answered"] == 1  # the call that was talking counts as answered
            assert today["answered"] + today["abandoned"] + today["unanswered"] == 2
            assert model.queue(SUPPORT)["counts"]["available"] == 3
            # the PBX works again and so does the view
            pbx.place_call("74951110023", "Снова", queue=SUPPORT, answered_by="nobody",
                           patience=120)  # fmt: skip
            await ws.until(lambda m: numbers(m) == ["+74951110023"])
