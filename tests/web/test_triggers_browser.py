"""`/admin/triggers` in Chromium: the list and a rule's page (with a dry run and a run
log) fit 1366 and 390 px wide, in Russian and English."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from tests.kit_browser import CHROMIUM, chromium
from tests.kit_server import LiveServer
from tests.web.kit_admin_rules import WIDTHS, fits, http, main_text, open_as, user_cookie
from tests.web.test_route_api import app_for
from tests.web.test_triggers import RULE

pytestmark = pytest.mark.browser

HAVE_CHROMIUM = os.path.exists(CHROMIUM)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    async with chromium() as launched:
        yield launched


async def test_the_triggers_pages_fit_the_screen(browser: Browser, database_url: str) -> None:
    async with LiveServer(app_for(database_url)) as server:
        async with http(server, await user_cookie(server, "admin")) as client:
            rule = (await client.post("/api/rules", json=RULE)).json()
        for language, heading in (("en", "Triggers"), ("ru", "Триггеры")):
            cookie = await user_cookie(server, "admin", language=language)
            for path in ("/admin/triggers", f"/admin/triggers/{rule['id']}"):
                for width, height in WIDTHS:
                    page = await open_as(browser, server, path, cookie, width=width, height=height)
                    await fits(page, width)
                    assert heading in await main_text(page)
                    await page.context.close()
