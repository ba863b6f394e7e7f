"""The live view (a Russian supervisor's) in headless Chromium shows "listened by
<supervisor>" on the agent's row while the listen is on, and drops it when it ends."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from crm.database import Database
from tests.supervisor.kit_live import quiet_sim, trubka
from tests.supervisor.test_actions import ANNA, talking
from tests.supervisor.test_browser import browser as browser  # the fixture
from tests.supervisor.test_browser import open_page
from tests.telephony.kit_sim import running

pytestmark = pytest.mark.browser


async def test_the_row_says_who_listens(db: Database, database_url: str, browser: Browser) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as t:
            await talking(t, "74951110032")
            page = await open_page(browser, t, "/supervisor")
            row = page.locator(f'tr[data-agent="{ANNA}"]')
            listened = row.locator('[data-f="listened"]')
            await expect(listened).to_be_hidden()
            response = await t.http.post(
                "/api/supervisor/spy", json={"agent": ANNA, "mode": "listen"}
            )
            assert response.status_code == 200, response.text
            await expect(listened).to_have_text("слушает Boss")
            await expect(listened).to_be_visible()
            pbx.hang_up(response.json()["uniqueid"])
            await expect(listened).to_be_hidden()
            assert page.errors == []  # type: ignore[attr-defined]
