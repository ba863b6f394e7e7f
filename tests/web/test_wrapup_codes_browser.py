"""`/admin/wrapup-codes` in Chromium: in English and Russian it fits 1366×768 and a phone's
390 px without scrolling sideways, and the Russian page shows none of this feature's
English; a code added on the page is offered by the agent's wrap-up form."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator

import pytest
from babel.messages.pofile import read_po
from playwright.async_api import Browser

from tests.kit_browser import CHROMIUM, chromium
from tests.kit_server import LiveServer
from tests.web.kit_admin_rules import (
    SCREENSHOTS,
    WIDTHS,
    fits,
    main_text,
    open_as,
    untranslated,
    user_cookie,
)
from tests.web.test_admin_settings_api import app_for
from web.i18n import LOCALE_DIR

pytestmark = pytest.mark.browser
PATH = "/admin/wrapup-codes"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    async with chromium() as launched:
        yield launched


def english_of_this_feature() -> list[str]:
    with (LOCALE_DIR / "ru" / "LC_MESSAGES" / "wrapup_codes.po").open("rb") as handle:
        catalog = read_po(handle, locale="ru")
    return [str(m.id) for m in catalog if m.id and m.string != m.id]


async def test_the_page_fits_and_is_translated(browser: Browser, database_url: str) -> None:
    async with LiveServer(app_for(database_url)) as server:
        shots = os.environ.get("TRUBKA_SCREENSHOTS") == "1"
        for language in ("en", "ru"):
            cookie = await user_cookie(server, "admin", language=language)
            for width, height in WIDTHS:
                page = await open_as(browser, server, PATH, cookie, width=width, height=height)
                assert await page.title()
                assert await page.locator("#wrapup-codes tbody tr").count() == 7
                await fits(page, width)
                text = await main_text(page)
                if language == "ru":
                    assert "Коды итогов звонка" in text
                    assert untranslated(text) == []
                    left = [s for s in english_of_this_feature() if s in text]
                    assert left == []
                    assert not re.search(r"\bWrap-up codes\b", text)
                else:
                    assert "Wrap-up codes" in text and "Successful contact" in text
                if shots and width == 1366:
                    await page.screenshot(
                        path=str(SCREENSHOTS / f"admin-wrapup-codes-{language}.png"),
                        full_page=True,
                    )
                await page.context.close()


async def test_a_code_added_on_the_page_is_offered_to_agents(
    browser: Browser, database_url: str
) -> None:
    app = app_for(database_url)
    async with LiveServer(app) as server:
        cookie = await user_cookie(server, "admin", language="ru")
        page = await open_as(browser, server, PATH, cookie)
        form = page.locator("#code-add")
        await form.locator('input[name="code"]').fill("callback")
        await form.locator('input[name="label_en"]').fill("Call back later")
        await form.locator('input[name="label_ru"]').fill("Перезвонить позже")
        await form.locator('input[name="success"]').check()
        await form.locator('button[type="submit"]').click()
        await page.wait_for_url("**/admin/wrapup-codes?done=1")
        assert await page.locator('tr[data-code="callback"]').count() == 1
        row = page.locator('tr[data-code="sale"]')
        await row.locator('input[name="active"]').uncheck()
        await row.locator('button[type="submit"]:not([name])').click()
        await page.wait_for_url("**/admin/wrapup-codes?done=1")
        await page.context.close()
        codes = app.state.services.admin_settings.wrapup_codes
        assert [c.code for c in codes.active()][-1] == "callback"
        assert not codes.get("sale").active
