"""The wallboard with two simulated PBXes in headless Chromium: it shows every PBX's
queues, each kept up to date by that PBX's pushed feed (a caller waiting on PBX `b` shows
on `b`'s board and in the totals, not on `a`'s), and `?pbx=b` shows `b`'s only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from crm.database import Database
from telephony.simpbx import AgentConfig
from tests.kit_browser import CHROMIUM_ARGS, chromium
from tests.supervisor.kit_live import quiet_sim, trubka
from tests.supervisor.test_browser import HAVE_CHROMIUM, fits_the_screen, open_page
from tests.telephony.kit_sim import SECRET, USER, running

pytestmark = pytest.mark.browser

AGENTS_A = (AgentConfig("101", "Анна Смирнова", ("support",)),)
AGENTS_B = (AgentConfig("201", "Вера Соколова", ("support",)),)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    async with chromium(CHROMIUM_ARGS) as launched:
        yield launched


async def test_the_wallboard_shows_every_pbx(
    browser: Browser, db: Database, database_url: str
) -> None:
    async with (
        running(quiet_sim(agents=AGENTS_A)) as pbx_a,
        running(quiet_sim(agents=AGENTS_B, seed=8)) as pbx_b,
    ):
        pbxes = [
            {"name": "a", "ami_port": pbx_a.port, "ami_user": USER, "ami_secret": SECRET},
            {"name": "b", "ami_port": pbx_b.port, "ami_user": USER, "ami_secret": SECRET},
        ]
        async with trubka(database_url, pbx_a, pbxes=json.dumps(pbxes)) as t:
            page = await open_page(browser, t, "/wallboard")
            board_a = page.locator('article[data-queue="a/support"]')
            board_b = page.locator('article[data-queue="b/support"]')
            await expect(board_a).to_be_visible()
            await expect(board_b).to_be_visible()
            await expect(board_b.locator('[data-f="pbx"]')).to_have_text(
                "АТС b"
            )  # the page is in Russian
            await fits_the_screen(page)

            pbx_b.set_agents_answer(False)
            pbx_b.place_call("79160000009", "Нина", patience=20.0)
            await expect(board_b.locator('[data-f="waiting"]')).to_have_text("1")
            await expect(page.locator('[data-total="waiting"]')).to_have_text("1")
            await expect(board_a.locator('[data-f="waiting"]')).to_have_text("0")

            only_b = await open_page(browser, t, "/wallboard?pbx=b")
            await expect(only_b.locator('article[data-queue="b/support"]')).to_be_visible()
            await expect(only_b.locator('article[data-queue="a/support"]')).to_have_count(0)
            await expect(
                only_b.locator('article[data-queue="b/support"] [data-f="waiting"]')
            ).to_have_text("1")
            assert not page.errors and not only_b.errors  # type: ignore[attr-defined]
