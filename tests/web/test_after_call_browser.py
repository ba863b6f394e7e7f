"""After-call work, a pending pause and the supervisor alerts in Chromium, against a real
server and the simulated PBX over TCP."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.kit_browser import chromium
from tests.web.kit_panel import CHROMIUM, PASSWORD, panel_stack, signed_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
expect.set_options(timeout=10_000)


async def test_panel_pending_pause_then_after_call_work_and_wrap_ups_from_the_server(
    sqlite_url: str,
) -> None:
    async with panel_stack(sqlite_url, wrapup_limit=120) as stack:
        await stack.agent("anna", "101", language="ru")
        async with signed_in_page(stack, "anna") as page:
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
            # a call, and a pause asked for during it
            first = stack.pbx.place_call("+74951110000", "Иван", queue="support")
            await expect(page.locator("#pops .call-card")).to_have_count(1)
            stack.pbx.answer("101")
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "on_call")
            await page.select_option("#pause-reason", "lunch")
            await page.click("#pause-button")
            line = page.locator("#acw-line")
            await expect(line).to_have_text("Пауза после этого звонка: Обед")
            await expect(page.locator("#panel-message")).to_be_hidden()  # no stale line
            await expect(page.locator("#unpause-button")).to_be_visible()
            await page.click("#unpause-button")  # called off
            await expect(line).to_be_hidden()
            await expect(page.locator("#pause-button")).to_be_visible()

            stack.pbx.hang_up(first.linkedid)
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "wrap_up")
            await expect(page.locator("#agent-state")).to_have_text("Постобработка")
            await expect(line).to_contain_text("Постобработка 0:0")
            await expect(line).to_contain_text("из 2:00")

        # another browser (nothing in its storage): the wrap-up owed comes from the server
        async with chromium() as browser:
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(stack.url + "/login")
            await page.fill("#login", "anna")
            await page.fill("#password", PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url(stack.url + "/")
            forms = page.locator("#wrapups .wrapup-form")
            await expect(forms).to_have_count(1)
            await page.locator("#wrapups select").first.select_option("resolved")
            await page.locator("#wrapups button[type=submit]").first.click()
            await expect(forms).to_have_count(0)
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
            await expect(page.locator("#acw-line")).to_be_hidden()
        owed = await stack.services.after_call.pending(stack.users["anna"].id)
        assert owed == ([], 0)


async def test_live_view_shows_a_pending_pause_and_alerts(sqlite_url: str) -> None:
    async with panel_stack(sqlite_url, alert_wait_seconds=1, wrapup_limit=120) as stack:
        await stack.agent("anna", "101")
        await stack.agent("boss", None, role="supervisor")
        async with stack.client("anna") as http, signed_in_page(stack, "boss") as page:
            await page.goto(stack.url + "/supervisor")
            row = page.locator('tr[data-agent="Local/101@agents"]')
            await expect(row.locator('[data-f="state"]')).to_have_text("Available")
            call = stack.pbx.place_call("+74951110000", "Иван", queue="support")
            await expect(row.locator('[data-f="state"]')).to_have_text("Ringing")
            stack.pbx.answer("101")
            await expect(row.locator('[data-f="state"]')).to_have_text("On a call")
            asked = await http.post("/api/panel/pause", json={"paused": True, "reason": "break"})
            assert asked.status_code == 202
            await expect(row.locator('[data-f="reason"]')).to_have_text(
                "Pause after this call: Break"
            )
            # a caller waits in a queue nobody serves: past 1 s it is an alert
            stack.pbx.place_call("+74951110009", "Пётр", queue="help")
            alerts = page.locator("#alerts")
            await expect(alerts).to_be_visible()
            await expect(alerts.locator('li[data-kind="long_wait"]')).to_contain_text(
                "help: a caller has waited"
            )
            stack.pbx.hang_up(call.linkedid)
            await expect(row.locator('[data-f="state"]')).to_have_text("Paused")
            await expect(row.locator('[data-f="reason"]')).to_have_text(
                "Break"
            )  # the reason's label, not its key
            # the wallboard shows the same alerts
            await page.goto(stack.url + "/wallboard")
            await expect(page.locator('#alerts li[data-kind="long_wait"]')).to_have_count(1)
