"""The contact page with letters in Chromium: a hostile letter shows as text (nothing of
it runs), the page fits a phone's 390 px and a laptop's 1366 px, and the card's form
sends a letter that a real SMTP server (aiosmtpd) receives."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from crm.schemas import ContactCreate
from tests.crm.mail.kit_dovecot import Dovecot
from tests.crm.mail.kit_mail import CUSTOMER, SYSTEM, letter
from tests.crm.mail.kit_smtp import SmtpServer
from tests.kit_browser import CHROMIUM, chromium
from tests.kit_server import LiveServer
from tests.web.conftest import PASSWORD, Api
from tests.web.test_mail_api import mailbox_body
from trubka.app import build_app
from trubka.settings import load_settings

pytestmark = pytest.mark.browser
LONG = "Оченьдлинноеслово" * 12
HAVE_CHROMIUM = Path(CHROMIUM).exists()


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    server = Dovecot.start(tmp_path_factory.mktemp("dovecot"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def live(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Api]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    path = tmp_path / "trubka.db"
    shutil.copy(sqlite_template, path)
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{path}",
        secret_key="e-mail browser tests",
        mail_poll_interval=3600,
    )
    app = build_app(settings)
    async with LiveServer(app) as server:
        yield Api(server, app.state.services)


@pytest.mark.parametrize("width", [390, 1366])
async def test_letters_on_the_card_are_text_fit_the_window_and_the_form_sends(
    live: Api, dovecot: Dovecot, width: int
) -> None:
    login, password = dovecot.new_user()
    smtp = SmtpServer(login, password).start()
    try:
        await live.user("olga")
        await live.crm.mailboxes.create(
            _mailbox(mailbox_body(dovecot, login, password, smtp.port)), SYSTEM
        )
        contact = await live.crm.contacts.create(
            ContactCreate(name="Ivan Petrov", emails=[CUSTOMER]), SYSTEM
        )
        raw, _ = letter(
            to="sales@trubka.example", subject=f"<img src=x onerror=window.pwned=1> {LONG}",
            text=None, html=f"<p>{LONG}</p><script>window.pwned = 2</script>",
            attachments=[(f"{LONG}.pdf", b"%PDF")],
        )  # fmt: skip
        dovecot.deliver(login, password, raw)
        assert live.services.mail_poller is not None
        await live.services.mail_poller.poll_all()

        async with chromium() as browser:
            context = await browser.new_context(
                base_url=live.url, viewport={"width": width, "height": 800}, locale="ru-RU"
            )
            page = await context.new_page()
            await page.goto("/login")
            await page.fill("input[name=login]", "olga")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_load_state()
            await page.goto(f"/contacts/{contact['id']}")
            await page.click(".letter summary")
            await page.click(".letter-form summary")
            await page.wait_for_timeout(50)
            wide, window = await page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert wide <= window, (wide, window)
            assert await page.evaluate("() => window.pwned === undefined")
            assert await page.locator(".letter img, .letter script").count() == 0
            assert LONG in (await page.locator(".letter .letter-text").inner_text())

            await page.fill("#letter-subject", "Ответ")
            await page.fill("#letter-body", "Здравствуйте, {{ contact.name }}!")
            await page.click(".letter-form button[type=submit]")
            await page.wait_for_load_state()
            assert "Письмо отправлено." in await page.content()
            await context.close()
        [received] = smtp.received
        assert "Здравствуйте, Ivan Petrov!" in _text(received.data)
    finally:
        smtp.stop()


def _mailbox(body: dict[str, Any]) -> Any:
    from crm.mail.mailboxes import MailboxCreate

    return MailboxCreate(**body)


def _text(data: bytes) -> str:
    from email import message_from_bytes
    from email.policy import default

    body = message_from_bytes(data, policy=default).get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())
