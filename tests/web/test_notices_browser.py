"""The panel's notices in the browser: a rule's notice sent while the user was offline is
listed when the panel opens (the socket connects), a live one joins it, and marking them
read (one, then all) empties the list and is stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from crm.database import Database
from crm.notices import Notice
from tests.web.kit_panel import CHROMIUM, panel_stack, signed_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
expect.set_options(timeout=10_000)


async def _stored(db: Database, count: int) -> list[Notice]:
    async with asyncio.timeout(10):
        while True:
            async with db.session() as session:
                rows = list((await session.scalars(select(Notice).order_by(Notice.id))).all())
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.05)


async def test_a_notice_sent_while_offline_is_shown_and_marked_read(sqlite_url: str) -> None:
    async with panel_stack(sqlite_url) as stack:
        anna = await stack.agent("anna", "101", language="ru")
        await stack.services.crm.rules.create(
            {
                "name": "Новый контакт",
                "event": "contact.created",
                "conditions": [],
                "actions": [
                    {
                        "type": "notify",
                        "assignee": ["user"],
                        "user_id": anna.id,
                        "text": "Новый: {{ contact_name }}",
                    }
                ],
            },
            None,
        )
        async with stack.client("anna") as http:
            made = await http.post("/api/contacts", json={"name": "<b>Офлайн</b>"})
            assert made.status_code == 201, made.text
            (offline,) = await _stored(stack.services.db, 1)
            assert offline.user_id == anna.id

            async with signed_in_page(stack, "anna") as page:
                items = page.locator("#notices .notice-item")
                await expect(items).to_have_count(1)
                await expect(items.first).to_contain_text("Новый: <b>Офлайн</b>")  # as text
                await expect(page.locator("#notices-heading")).to_contain_text("Уведомления")

                made = await http.post("/api/contacts", json={"name": "Живой"})
                assert made.status_code == 201, made.text
                await expect(items).to_have_count(2)  # the live push, with its id
                await expect(page.locator("#notices-count")).to_have_text("2")
                await expect(items.first).to_contain_text("Новый: Живой")

                await page.locator(f"[data-notice='{offline.id}'] .notice-read").click()
                await expect(items).to_have_count(1)
                fits = "(d => d.scrollWidth <= d.clientWidth)(document.documentElement)"
                assert await page.evaluate(fits) is True
                await page.set_viewport_size({"width": 390, "height": 800})
                assert await page.evaluate(fits) is True
                await page.click("#notices-read-all")
                await expect(page.locator("#notices")).to_be_hidden()

            unread = (await http.get("/api/notices?unread=1")).json()
            assert unread == {"items": [], "unread": 0}
