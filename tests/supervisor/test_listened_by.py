"""The live view shows who is listening to an agent's call: while a supervisor's spy
session is on (ChanSpy started on the call), the agent's row has `listened_by`, and the
WebSocket feed updates the row when the session starts and ends."""

from __future__ import annotations

from crm.database import Database
from tests.supervisor.kit_live import quiet_sim, trubka
from tests.supervisor.test_actions import ANNA, talking
from tests.telephony.kit_sim import running


async def test_the_agent_row_says_who_listens_while_the_spy_session_lasts(
    db: Database, database_url: str
) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as t, t.socket() as ws:
            linkedid = await talking(t, "74951110031")
            model = await ws.until(lambda m: m.agents[ANNA]["current_call"] is not None)
            assert model.agents[ANNA]["listened_by"] == []
            response = await t.http.post(
                "/api/supervisor/spy", json={"agent": ANNA, "mode": "listen"}
            )
            assert response.status_code == 200, response.text
            spy = response.json()["uniqueid"]
            model = await ws.until(lambda m: bool(m.agents[ANNA]["listened_by"]))
            [listener] = model.agents[ANNA]["listened_by"]
            assert listener["name"] == "Boss"
            assert listener["phone"] == "Local/200@agents"
            assert listener["since"]
            # GET /api/live says the same.
            live = (await t.http.get("/api/live")).json()
            row = next(a for a in live["agents"] if a["interface"] == ANNA)
            assert [x["name"] for x in row["listened_by"]] == ["Boss"]
            pbx.hang_up(spy)
            model = await ws.until(lambda m: m.agents[ANNA]["listened_by"] == [])
            assert model.agents[ANNA]["current_call"]["linkedid"] == linkedid
