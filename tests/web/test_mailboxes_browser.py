"""`/admin/mailboxes` in Chromium: the list (a mailbox with a long last error) and a
mailbox's page fit 1366 and 390 px wide, in Russian and English."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser
from sqlalchemy import update

from crm.mail.models import Mailbox
from tests.kit_browser import CHROMIUM, chromium
from tests.kit_server import LiveServer
from tests.web.kit_admin_rules import WIDTHS, fits, http, main_text, open_as, user_cookie
from tests.web.test_route_api import app_for

pytestmark = pytest.mark.browser

HAVE_CHROMIUM = os.path.exists(CHROMIUM)
MAILBOX = {
    "name": "Sales department of the northern region",
    "address": "sales.department.of.the.northern.region@example.com",
    "imap_host": "imap.a-very-long-host-name-of-the-mail-provider.example.com",
    "imap_port": 993,
    "login": "sales.department.of.the.northern.region@example.com",
    "password": "app password",
    "sent_folder": "Sent Messages",
}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    async with chromium() as launched:
        yield launched


async def test_the_mailboxes_pages_fit_the_screen(browser: Browser, database_url: str) -> None:
    app = app_for(database_url, secret_key="mailbox page tests", mail_poll_interval=3600)
    async with LiveServer(app) as server:
        async with http(server, await user_cookie(server, "admin")) as client:
            created = await client.post("/api/mailboxes", json={**MAILBOX, "enabled": False})
            assert created.status_code == 201, created.text
            box = created.json()
        async with app.state.services.crm.db.transaction() as session:
            await session.execute(
                update(Mailbox).values(
                    last_error="IMAP imap.a-very-long-host-name-of-the-mail-provider.example.com"
                    ":993: [Errno 111] Connect call failed ('203.0.113.1', 993)"
                )
            )
        for language, heading in (("en", "Mailboxes"), ("ru", "Почтовые ящики")):
            cookie = await user_cookie(server, "admin", language=language)
            for path in ("/admin/mailboxes", f"/admin/mailboxes/{box['id']}"):
                for width, height in WIDTHS:
                    page = await open_as(browser, server, path, cookie, width=width, height=height)
                    await fits(page, width)
                    assert heading in await main_text(page)
                    await page.context.close()
