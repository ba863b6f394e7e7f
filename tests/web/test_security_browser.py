"""Every page works under the Content-Security-Policy in a real browser (issue 17,
item 10): no script, style or socket of Trubka's own is blocked, the live views connect,
and the language menu (once an inline handler) still switches the language."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, expect

from crm.access import Actor
from crm.schemas import ContactCreate
from tests.web.kit_panel import CHROMIUM, panel_stack, signed_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
expect.set_options(timeout=10_000)


async def test_the_pages_work_under_the_policy(sqlite_url: str) -> None:
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("boss", "101", role="supervisor")
        contact = await stack.services.crm.contacts.create(
            ContactCreate(name="Иван Петров", phones=["+74951110000"]), Actor.system()
        )
        async with signed_in_page(stack, "boss") as page:
            blocked: list[str] = []

            def watch(message: ConsoleMessage) -> None:
                text = message.text
                if "Content Security Policy" in text or "Refused to" in text:
                    blocked.append(f"{page.url}: {text}")

            page.on("console", watch)
            response = await page.reload()
            assert response is not None
            assert "script-src 'self'" in (await response.all_headers())["content-security-policy"]
            await page.wait_for_selector("body[data-live=open]")  # the panel's socket
            for path in ("/contacts", f"/contacts/{contact['id']}", "/status", "/reports"):
                await page.goto(stack.url + path)
                await page.wait_for_load_state("networkidle")
            for path in ("/supervisor", "/wallboard"):  # their sockets connect
                await page.goto(stack.url + path)
                await expect(page.locator("#live-status")).to_have_attribute(
                    "data-state", "connected"
                )
            await page.goto(stack.url + "/contacts")
            await page.select_option("#lang-select", "ru")  # submits through lang-switch.js
            await page.wait_for_url(stack.url + "/contacts")
            await expect(page.locator("html")).to_have_attribute("lang", "ru")
            assert blocked == []
