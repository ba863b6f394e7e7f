"""The routing rules page in headless Chromium: an admin edits a rule and the next call's
decision (the preview, `/api/route`) changes without a restart; a bad document is refused
with its line named and the old rules stay in force. Every page of the feature fits
1366×768 and a 390 px phone and shows no English on the Russian page.

`TRUBKA_SCREENSHOTS=1` saves the screenshots of docs/screenshots/ as well.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from supervisor.audit import Actor
from tests.kit_browser import CHROMIUM, chromium
from tests.kit_server import LiveServer
from tests.supervisor.kit_live import quiet_sim, trubka
from tests.telephony.kit_sim import running
from tests.web.kit_admin_rules import (
    SCREENSHOTS,
    WIDTHS,
    fits,
    http,
    main_text,
    open_as,
    untranslated,
    user_cookie,
)
from tests.web.test_route_api import E164, app_for

pytestmark = pytest.mark.browser

HAVE_CHROMIUM = os.path.exists(CHROMIUM)

PAGES = ("/admin/routing", "/admin/pause-reasons", "/admin/settings", "/admin/system")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    async with chromium() as launched:
        yield launched


async def preview(page: Page, caller: str) -> str:
    await page.fill("#preview-caller", caller)
    await page.fill("#preview-did", "74951234567")
    await page.click("#preview-button")
    result = page.locator("#preview-result")
    await expect(result).to_be_visible()
    return str(await result.get_attribute("data-routed-by"))


async def route(server: LiveServer) -> str:
    async with server.client() as client:
        answer = await client.get("/api/route", params={"caller": E164, "did": "74951234567"})
    return str(answer.json()["routed_by"])


async def test_an_edited_rule_decides_the_next_call(browser: Browser, database_url: str) -> None:
    async with LiveServer(app_for(database_url)) as server:
        cookie = await user_cookie(server, "admin")
        page = await open_as(browser, server, "/admin/routing", cookie)
        assert await preview(page, E164) == "previous-manager"
        assert await route(server) == "previous-manager"
        await page.fill("#rules-text", 'queue = "support"\nprefer = []  # always the queue\n')
        await page.click("#rules-save")
        await expect(page.locator("#rules-saved")).to_contain_text("version 1")
        assert await preview(page, E164) == "queue"
        await expect(page.locator("#preview-result")).to_contain_text("queue support")
        assert await route(server) == "queue"  # the next call, no restart
        await expect(page.locator("#rules-history tbody tr")).to_have_count(1)
        # Roll back to the defaults' behaviour by saving them, then back to version 1.
        await page.fill("#rules-text", "")
        await page.click("#rules-save")
        assert await route(server) == "previous-manager"
        await page.locator("#rules-history button.rollback").first.click()
        await expect(page.locator("#rules-saved")).to_contain_text("version 3")
        assert await route(server) == "queue"


async def test_a_bad_document_is_refused_with_its_line(browser: Browser, database_url: str) -> None:
    async with LiveServer(app_for(database_url)) as server:
        cookie = await user_cookie(server, "admin", language="ru")
        page = await open_as(browser, server, "/admin/routing", cookie)
        await page.fill("#rules-text", 'queue = "support"\nprefer = []\n')
        await page.click("#rules-save")
        await expect(page.locator("#rules-saved")).to_be_visible()
        bad = 'queue = "support"\nprefer = []\n\n[dids."74951234567"]\nwhen_busy = "later"\n'
        await page.fill("#rules-text", bad)
        await page.click("#rules-save")
        problems = page.locator("#rules-problems")
        await expect(problems).to_contain_text("Строка 5")
        await expect(problems).to_contain_text("dids.74951234567.when_busy")
        await expect(page.locator("#rules-text")).to_have_value(bad)  # nothing typed is lost
        await expect(page.locator("#rules-version")).to_contain_text("Версия 1")
        assert await route(server) == "queue"  # the old rules stay in force
        async with http(server, cookie) as client:
            assert (await client.get("/api/routing/rules")).json()["version"] == 1


async def test_every_page_fits_and_is_translated(browser: Browser, database_url: str) -> None:
    # A recordings folder as a server has it (not created: nothing is recorded here).
    app = app_for(database_url, recordings_dir=Path("/srv/trubka/recordings"))
    async with LiveServer(app) as server:
        async with http(server, await user_cookie(server, "admin")) as client:
            toml = (
                'queue = "support"\n[vip]\ngold = 5\n[hours]\ntimezone = "Europe/Moscow"\n'
                'mon = "09:00-18:00"\nholidays = [2026-12-31]\n[after_hours]\naction = "goto"\n'
                'goto = "voicemail,s,1"\n[dids."+74951234567"]\nwhen_busy = "wait"\n'
            )
            assert (await client.put("/api/routing/rules", json={"toml": toml})).status_code == 200
        shots = os.environ.get("TRUBKA_SCREENSHOTS") == "1"
        for language in ("en", "ru"):
            cookie = await user_cookie(server, "admin", language=language)
            for path in PAGES:
                for width, height in WIDTHS:
                    page = await open_as(browser, server, path, cookie, width=width, height=height)
                    assert await page.title()
                    if path == "/admin/routing":
                        await preview(page, E164)
                    await fits(page, width)
                    text = await main_text(page)
                    if language == "ru":
                        assert untranslated(text) == [], path
                        assert "processing" not in text and "pending" not in text
                    if shots and width == 1366:
                        name = path.rsplit("/", 1)[1]
                        await page.screenshot(
                            path=str(SCREENSHOTS / f"admin-{name}-{language}.png"), full_page=True
                        )
                    await page.context.close()


async def test_a_pause_past_its_limit_is_marked_on_the_live_view(
    browser: Browser, database_url: str
) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as t:
            admin_settings = t.services.admin_settings
            boss = await t.services.crm.users.get_by_login("boss")
            assert boss is not None
            who = Actor(user_id=boss.id, login="boss", name="Boss", role="admin")
            await admin_settings.update_pause_reason(
                "lunch", {"labels": {"en": "Lunch", "ru": "Обед"}, "max_minutes": 1}, who
            )
            context = await browser.new_context(viewport={"width": 1366, "height": 768})
            await context.add_cookies(
                [{"name": "trubka_session", "value": t.cookie, "url": t.server.url}]
            )
            page = await context.new_page()
            await page.clock.install()
            await page.goto(t.server.url + "/supervisor")
            await expect(page.locator("#pause-reason option[value=lunch]")).to_have_text("Обед")
            assert t.services.pbx is not None
            await t.services.pbx.queue_pause("Local/105@agents/n", True, reason="lunch")
            row = page.locator('tr[data-agent="Local/105@agents"]')
            await expect(row.locator('[data-f="reason"]')).to_have_text("Обед")
            await page.clock.fast_forward("00:03")  # the check ran: a short pause is fine
            assert "pause-over" not in (await row.get_attribute("class") or "")
            await page.clock.fast_forward("01:05")  # a minute and five seconds later
            await expect(row).to_have_class("pause-over")
            reason = row.locator('[data-f="reason"]')
            await expect(reason).to_have_attribute("data-over", "дольше предела в 1 мин")
            await context.close()


async def test_a_line_changed_with_the_form_decides_the_next_call(
    browser: Browser, database_url: str
) -> None:
    async with LiveServer(app_for(database_url)) as server:
        cookie = await user_cookie(server, "admin", language="ru")
        page = await open_as(browser, server, "/admin/routing", cookie)
        assert await route(server) == "previous-manager"
        await page.fill("#line-new-did", "74951234567")
        await page.select_option("#line-first", "")  # nobody: the queue
        await page.fill("#line-queue", "vip-line")
        await page.click("#line-save")
        await expect(page.locator("#rules-saved")).to_contain_text("1")
        assert await route(server) == "queue"  # the next call to that DID
        async with server.client() as client:
            other = await client.get("/api/route", params={"caller": E164, "did": "74950000000"})
        assert other.json()["routed_by"] == "previous-manager"  # other lines keep theirs
        assert await preview(page, E164) == "queue"
        await expect(page.locator("#preview-result")).to_contain_text("очередь vip-line")
        # The DID is now a line of its own: chosen, its values are in the form.
        await page.select_option("#line-choice", "did:74951234567")
        await page.click("#line-load")
        await expect(page.locator("#line-queue")).to_have_value("vip-line")
        await page.fill("#line-lookback", "40000")  # past 100 years
        await page.click("#line-save")
        await expect(page.locator("#rules-problems")).to_contain_text("lookback_days")
        async with http(server, cookie) as client:
            assert (await client.get("/api/routing/rules")).json()["version"] == 1
