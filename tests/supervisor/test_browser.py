"""The live view and the wallboard in headless Chromium against the simulated PBX: the page
follows a caller who joins, waits, is answered, and one who abandons; a pause chosen with
the keyboard reaches the PBX as the right QueuePause; a listen as the right Originate.

`TRUBKA_SCREENSHOTS=1` saves the screenshots of docs/screenshots/ as well.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from crm.database import Database
from tests.kit_browser import CHROMIUM, CHROMIUM_ARGS, chromium
from tests.supervisor.kit_live import Running, quiet_sim, trubka
from tests.supervisor.test_actions import headers
from tests.telephony.kit_sim import FAST_QUEUES, running

pytestmark = pytest.mark.browser

ARGS = CHROMIUM_ARGS
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
SUPPORT = "support"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    async with chromium(ARGS) as launched:
        yield launched


async def open_page(browser: Browser, t: Running, path: str, **options: Any) -> Page:
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, **options)
    await context.add_cookies([{"name": "trubka_session", "value": t.cookie, "url": t.server.url}])
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    await page.goto(t.server.url + path)
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")
    page.errors = errors  # type: ignore[attr-defined]
    return page


def card(page: Page, queue: str) -> Any:
    return page.locator(f'article[data-queue="{queue}"]')


def agent_row(page: Page, interface: str) -> Any:
    return page.locator(f'tr[data-agent="{interface}"]')


async def fits_the_screen(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366, f"the page is {width}px wide at 1366×768"


async def test_the_live_view_follows_the_calls(
    browser: Browser, db: Database, database_url: str, tmp_path: Path
) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as t:
            page = await open_page(browser, t, "/supervisor")
            support = card(page, SUPPORT)
            await expect(support.locator('[data-f="waiting"]')).to_have_text("0")
            nobody = support.locator('[data-f="waiting_list"]')
            await expect(nobody).to_contain_text("Никто не ждёт")

            # a caller joins and waits
            pbx.place_call("74951110001", "Иван Петров", queue=SUPPORT, patience=60, talk_time=1)
            await expect(support.locator('[data-f="waiting"]')).to_have_text("1")
            waiting = support.locator('[data-f="waiting_list"] li').first
            await expect(waiting).to_contain_text("8 (495) 111-00-01")
            await expect(page.locator('[data-total="waiting"]')).to_have_text("1")
            # its wait runs on in the page between updates
            await expect(waiting.locator(".time")).not_to_have_text("0:00", timeout=5000)

            # agent 101 answers
            pbx.set_agent_answers("101", True)
            anna = agent_row(page, "Local/101@agents")
            await expect(anna.locator('[data-f="state"]')).to_have_text("На линии")
            await expect(anna.locator('[data-f="call"]')).to_contain_text("8 (495) 111-00-01")
            await expect(support.locator('[data-f="waiting"]')).to_have_text("0")
            await expect(support.locator('[data-f="on_call"]')).to_have_text("1")
            await expect(anna.locator('[data-act="listen"]')).to_be_enabled()
            pbx.set_agent_answers("101", False)

            # another caller gives up
            pbx.place_call("79161110002", "Ольга", queue=SUPPORT, patience=1.5, answered_by="x")
            await expect(support.locator('[data-f="waiting"]')).to_have_text("1")
            await expect(support.locator('[data-f="abandoned"]')).to_have_text("1", timeout=15000)
            await expect(support.locator('[data-f="answered"]')).to_have_text("1", timeout=15000)
            await expect(support.locator('[data-f="offered"]')).to_have_text("2")
            await expect(support.locator('[data-f="abandon_rate"]')).to_have_text("50,0%")
            await expect(support.locator('[data-f="service_level"]')).to_have_text("100,0%")
            await expect(support.locator('[data-f="service_level"]')).to_have_class("level good")
            await expect(anna.locator('[data-f="state"]')).to_have_text("Свободен")
            await expect(anna.locator('[data-f="calls_today"]')).to_have_text("1")
            await fits_the_screen(page)
            assert page.errors == []  # type: ignore[attr-defined]


async def test_a_pause_chosen_with_the_keyboard_reaches_the_pbx(
    browser: Browser, db: Database, database_url: str
) -> None:
    async with running(quiet_sim()) as pbx:
        pbx.set_agents_answer(False)
        async with trubka(database_url, pbx) as t:
            page = await open_page(browser, t, "/supervisor")
            boris = agent_row(page, "Local/102@agents")
            pause = boris.locator('[data-act="pause"]')
            await pause.focus()
            await page.keyboard.press("Enter")
            dialog = page.locator("#pause-dialog")
            await expect(dialog).to_be_visible()
            await page.locator("#pause-reason").select_option("lunch")
            await page.locator("#pause-reason").focus()
            await page.keyboard.press("Tab")  # the free-text reason
            await page.keyboard.press("Tab")  # the queue: all of them
            await page.keyboard.press("Tab")  # the Pause button
            await page.keyboard.press("Enter")
            await expect(boris.locator('[data-f="state"]')).to_have_text("На паузе")
            await expect(boris.locator('[data-f="reason"]')).to_have_text("Обед")  # not `lunch`
            await expect(pause).to_be_focused()  # focus comes back to the row's button
            await expect(pause).to_have_text("Снять с паузы")
            assert headers(pbx.actions("QueuePause")[-1]) == [
                ("action", "QueuePause"),
                ("interface", "Local/102@agents/n"),
                ("paused", "true"),
                ("reason", "lunch"),
            ]
            # our own words, not Asterisk's "Interface paused successfully"
            await expect(page.locator("#action-result")).to_contain_text("пауза включена")
            await expect(page.locator("#action-result")).not_to_contain_text("successfully")

            # listen to agent 101's call: the supervisor's own phone rings into ChanSpy
            pbx.place_call("74951110009", "Клиент", queue=SUPPORT, answered_by="101", talk_time=60)
            pbx.set_agent_answers("101", True)
            listen = agent_row(page, "Local/101@agents").locator('[data-act="listen"]')
            await expect(listen).to_be_enabled()
            await listen.click()
            await expect(page.locator("#action-result")).to_contain_text("вы слушаете")
            await expect(page.locator("#action-result")).not_to_contain_text("answered")
            originate = pbx.actions("Originate")[-1]
            assert originate.get("channel") == "Local/200@agents/n"
            assert originate.get("application") == "ChanSpy"
            assert originate.get("data").endswith(";1,bqESu")
            assert page.errors == []  # type: ignore[attr-defined]


async def test_screens_at_1366_by_768(
    browser: Browser, db: Database, database_url: str, tmp_path: Path
) -> None:
    """A busy moment on the live view and the wallboard (saved for docs/ on request)."""
    save = os.environ.get("TRUBKA_SCREENSHOTS") == "1"
    async with running(quiet_sim(queues=FAST_QUEUES[:2])) as pbx:
        pbx.set_agents_answer(False)
        async with (
            trubka(database_url, pbx, queue_service_levels="sales=2") as t,
            t.socket() as ws,
        ):
            pbx.place_call("74951110020", "Пётр", queue=SUPPORT, answered_by="102", talk_time=0.2)
            pbx.set_agent_answers("102", True)
            await ws.until(lambda m: m.today(SUPPORT).get("answered") == 1, timeout=15)
            pbx.set_agent_answers("102", False)
            pbx.place_call("74951110021", "ООО «Ромашка»", queue=SUPPORT, answered_by="101",
                           talk_time=300)  # fmt: skip
            pbx.set_agent_answers("101", True)
            await ws.until(lambda m: m.agents["Local/101@agents"]["state"] == "on_call")
            pbx.place_call("79161110022", "Ольга", queue=SUPPORT, answered_by="x", patience=0.5)
            pbx.place_call("89263330024", "Анна", queue="sales", answered_by="x", patience=2.5)
            await ws.until(
                lambda m: (
                    m.today(SUPPORT).get("abandoned") == 1
                    and m.today("sales").get("abandoned") == 1
                ),
                timeout=15,
            )
            pbx.place_call("89263330023", "Сергей", queue="sales", answered_by="104",
                           talk_time=300)  # fmt: skip
            pbx.set_agent_answers("104", True)
            await ws.until(lambda m: m.agents["Local/104@agents"]["state"] == "on_call")
            for n in range(3):
                pbx.place_call(f"7495111003{n}", f"Клиент {n}", queue=SUPPORT, answered_by="x",
                               patience=300)  # fmt: skip
            pbx.place_call("74951110040", "Acme Ltd", queue="sales", answered_by="x", patience=300)
            await ws.until(lambda m: len(m.queues[SUPPORT]["waiting"]) == 3)
            assert t.services.pbx is not None
            await t.services.pbx.queue_pause("Local/105@agents/n", True, reason="lunch")
            await ws.until(lambda m: m.agents["Local/105@agents"]["state"] == "paused")
            for name, path in (("supervisor-ru", "/supervisor"), ("wallboard", "/wallboard")):
                page = await open_page(browser, t, path)
                if path == "/wallboard":
                    await expect(
                        page.locator('.wb-queue[data-queue="support"] [data-f="waiting"]')
                    ).to_have_text("3")
                else:
                    waiting = card(page, SUPPORT).locator('[data-f="waiting"]')
                    await expect(waiting).to_have_text("3")
                await fits_the_screen(page)
                target = (SCREENSHOTS if save else tmp_path) / f"{name}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(target), full_page=path != "/wallboard")
                assert target.stat().st_size > 10_000
                assert page.errors == []  # type: ignore[attr-defined]
