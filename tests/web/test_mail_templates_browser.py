"""The card's letter form in Chromium: picking a letter template fills the subject and
the text for the contact (rendered by the server), and the letter sent goes to a real
SMTP server (aiosmtpd) and into the timeline; the form fits 390 px."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.crm.mail.kit_smtp import SmtpServer
from tests.kit_browser import CHROMIUM, chromium
from tests.kit_server import LiveServer
from tests.web.conftest import PASSWORD, Api
from tests.web.test_mail_templates_pages import card_setup
from trubka.app import build_app
from trubka.settings import load_settings

pytestmark = pytest.mark.browser
HAVE_CHROMIUM = Path(CHROMIUM).exists()


@pytest.fixture
async def live(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Api]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    path = tmp_path / "trubka.db"
    shutil.copy(sqlite_template, path)
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{path}",
        secret_key="letter template browser tests",
        mail_poll_interval=3600,
    )
    app = build_app(settings)
    async with LiveServer(app) as server:
        yield Api(server, app.state.services)


async def test_picking_a_template_on_the_card_fills_the_letter_and_sends_it(live: Api) -> None:
    smtp = SmtpServer("sales", "app password").start()
    try:
        await live.user("olga")
        _box_id, contact_id, template_id = await card_setup(live, smtp)
        async with chromium() as browser:
            context = await browser.new_context(
                base_url=live.url, viewport={"width": 390, "height": 800}, locale="ru-RU"
            )
            page = await context.new_page()
            await page.goto("/login")
            await page.fill("input[name=login]", "olga")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_load_state()
            await page.goto(f"/contacts/{contact_id}")
            await page.click(".letter-form summary")
            await page.select_option("#letter-template", str(template_id))
            subject = page.locator("#letter-subject")
            await page.wait_for_function(
                "() => document.getElementById('letter-subject').value !== ''"
            )
            assert await subject.input_value() == "After our call, Ivan Petrov"
            body = await page.locator("#letter-body").input_value()
            assert body == "Dear Ivan Petrov, as promised.\nOlga"
            wide, window = await page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert wide <= window, (wide, window)
            await page.fill("#letter-body", body + "\nP.S. Call me.")
            await page.click(".letter-form button[type=submit]")
            await page.wait_for_load_state()
            assert "Письмо отправлено." in await page.content()
            await context.close()
        [received] = smtp.received
        assert b"P.S. Call me." in received.data
        letters = (await live.crm.letters.for_contact(contact_id))["items"]
        assert [x["subject"] for x in letters] == ["After our call, Ivan Petrov"]
    finally:
        smtp.stop()
