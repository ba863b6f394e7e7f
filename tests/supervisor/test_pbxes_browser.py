"""The live view of several PBXes in headless Chromium: the page shows the PBX chosen with
its select and follows that PBX's pushed updates (tagged with its name), while the first
PBX's page ignores them; the select fits a phone's screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from crm.database import Database
from telephony.simpbx import AgentConfig
from tests.supervisor.kit_live import quiet_sim, trubka
from tests.supervisor.test_browser import agent_row, browser, card, open_page
from tests.telephony.kit_sim import SECRET, USER, running

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the fixture

AGENTS_B = (AgentConfig("201", "Вера Соколова", ("support",)),)


async def test_the_page_follows_the_pbx_it_shows(
    browser: Browser, db: Database, database_url: str, tmp_path: Path
) -> None:
    async with (
        running(quiet_sim()) as pbx_a,
        running(quiet_sim(agents=AGENTS_B, seed=9)) as pbx_b,
    ):
        pbx_b.set_agents_answer(False)
        pbxes = [
            {"name": "a", "ami_port": pbx_a.port, "ami_user": USER, "ami_secret": SECRET},
            {"name": "b", "ami_port": pbx_b.port, "ami_user": USER, "ami_secret": SECRET},
        ]
        async with trubka(database_url, pbx_a, pbxes=json.dumps(pbxes)) as t:
            on_b = await open_page(browser, t, "/supervisor?pbx=b")
            on_a = await open_page(browser, t, "/supervisor")
            await expect(on_b.locator("#pbx-select")).to_have_value("b")
            await expect(on_a.locator("#pbx-select")).to_have_value("a")
            await expect(agent_row(on_b, "Local/201@agents")).to_be_visible()
            await expect(agent_row(on_b, "Local/101@agents")).to_have_count(0)
            # A caller waits on PBX b: b's page shows it, a's page does not.
            pbx_b.place_call("74951110009", "Иван", queue="support", patience=30, talk_time=1)
            await expect(card(on_b, "support").locator('[data-f="waiting"]')).to_have_text("1")
            await expect(on_b.locator('[data-total="waiting"]')).to_have_text("1")
            await expect(on_a.locator('[data-total="waiting"]')).to_have_text("0")
            await expect(card(on_a, "support").locator('[data-f="waiting"]')).to_have_text("0")
            await expect(agent_row(on_a, "Local/201@agents")).to_have_count(0)
            # The select switches the page to the other PBX.
            await on_a.locator("#pbx-select").select_option("b")
            await on_a.locator(".pbx-select button").click()
            await expect(on_a.locator('[data-total="waiting"]')).to_have_text("1")
            await on_b.set_viewport_size({"width": 390, "height": 800})
            width = await on_b.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the page is {width}px wide at 390 px"
            assert on_a.errors == [] and on_b.errors == []  # type: ignore[attr-defined]
            pbx_b.set_agents_answer(True)
