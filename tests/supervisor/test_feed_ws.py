"""The live view pushed over real WebSockets while the simulated PBX carries calls: a
caller joins and waits, an agent answers, a caller abandons — the figures move."""

from __future__ import annotations

from crm.database import Database
from tests.supervisor.kit_live import quiet_sim, trubka
from tests.telephony.kit_sim import running

SUPPORT = "support"
ANNA = "Local/101@agents"


def waiting_numbers(model: object) -> list[str]:
    return [w["caller_number"] for w in model.queues[SUPPORT]["waiting"]]  # type: ignore[attr-defined]


async def test_a_caller_joins_waits_is_answered_and_another_abandons(
    db: Database, database_url: str
) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as t, t.socket() as ws:
            model = await ws.until(lambda m: SUPPORT in m.queues)
            assert model.fulls == 1  # the whole picture at once, on connect
            assert model.queue(SUPPORT)["waiting"] == []
            assert model.agents[ANNA]["state"] == "available"
            assert model.agents[ANNA]["name"] == "Анна Смирнова"

            # a caller joins and waits
            pbx.place_call("74951110001", "Иван Петров", queue=SUPPORT, patience=60, talk_time=0.6)
            model = await ws.until(lambda m: waiting_numbers(m) == ["+74951110001"])
            [first] = model.queue(SUPPORT)["waiting"]
            assert first["position"] == 1 and first["caller_name"] == "Иван Петров"
            assert first["joined_at"] and first["wait_seconds"] >= 0
            assert model.totals["waiting"] == 1
            # a second one queues behind, and will give up
            pbx.place_call(
                "79161110002", "Ольга", queue=SUPPORT, patience=3.0, answered_by="nobody"
            )
            model = await ws.until(lambda m: waiting_numbers(m) == ["+74951110001", "+79161110002"])
            assert [w["position"] for w in model.queue(SUPPORT)["waiting"]] == [1, 2]

            # agent 101 picks up: the first caller leaves the queue, 101 is on the call
            pbx.set_agent_answers("101", True)
            model = await ws.until(
                lambda m: (
                    m.agents[ANNA]["state"] == "on_call"
                    and "+74951110001" not in waiting_numbers(m)
                )
            )
            call = model.agents[ANNA]["current_call"]
            assert call["caller_number"] == "+74951110001" and call["state"] == "talking"
            assert model.queue(SUPPORT)["counts"]["on_call"] == 1
            assert model.totals["talking"] == 1

            # the second caller abandons; the first call ends: today's figures follow
            model = await ws.until(
                lambda m: (
                    m.today(SUPPORT).get("abandoned") == 1 and m.today(SUPPORT).get("answered") == 1
                ),
                timeout=15,
            )
            today = model.today(SUPPORT)
            assert today["offered"] == 2
            assert today["abandon_rate"] == 50.0
            assert today["service_level"] == 100.0  # the abandon came before the threshold
            assert model.queue(SUPPORT)["waiting"] == []
            model = await ws.until(lambda m: m.agents[ANNA]["state"] == "available")
            assert model.agents[ANNA]["current_call"] is None
            assert model.agents[ANNA]["calls_today"] == 1
            assert model.totals["calls_in_progress"] == 0
            assert model.deltas >= 4
            feed = t.services.supervisor.feed
            assert feed is not None
            # a burst of events costs one build: far fewer builds than events
            assert feed.stats.builds < feed.stats.events


async def test_a_new_supervisor_gets_the_picture_at_once_and_agents_get_nothing(
    db: Database, database_url: str
) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as t:
            pbx.place_call("74951110003", "Пётр", queue=SUPPORT, patience=60)
            async with t.socket() as first:
                await first.until(lambda m: waiting_numbers(m) == ["+74951110003"])
            # another supervisor opens the page later: no waiting for the next change
            async with t.socket() as late:
                model = await late.until(lambda m: waiting_numbers(m) == ["+74951110003"])
                assert model.fulls == 1 and model.deltas == 0
                assert model.messages[0]["full"] is True
