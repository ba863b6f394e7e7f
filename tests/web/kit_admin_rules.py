"""Helpers of the admin rules tests (routing, pause reasons, settings, system): signed-in
clients and browser pages, the checks every admin page passes (fits the screen, no English
left on a Russian page)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from babel.messages.pofile import read_po
from playwright.async_api import Browser, Page

from web.i18n import LOCALE_DIR

PASSWORD = "correct horse"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = ((1366, 768), (390, 844))


async def user_cookie(
    server: Any, role: str, *, language: str = "en", login: str | None = None
) -> str:
    """Create a user with `role` (once) and sign in: the session cookie's value."""
    app = server.app if hasattr(server, "app") else server.server.config.app
    services = app.state.services
    login = login or f"{role}-{language}"
    if await services.crm.users.get_by_login(login) is None:
        await services.crm.users.create(
            login=login,
            name=f"{role.title()} {language}",
            role=role,
            password=PASSWORD,
            language=language,
        )
    async with server.client() as client:
        answer = await client.post("/api/session", json={"login": login, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return str(answer.cookies["trubka_session"])


async def open_as(
    browser: Browser, server: Any, path: str, cookie: str, *, width: int = 1366, height: int = 768
) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": height})
    await context.add_cookies([{"name": "trubka_session", "value": cookie, "url": server.url}])
    page = await context.new_page()
    await page.goto(server.url + path)
    return page


async def fits(page: Page, width: int) -> None:
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide at {width}px"


def english_strings() -> list[str]:
    """The English of this feature's catalog that Russian says differently (the words a
    Russian page must not show)."""
    with (LOCALE_DIR / "ru" / "LC_MESSAGES" / "admin_rules.po").open("rb") as handle:
        catalog = read_po(handle, locale="ru")
    out = []
    for message in catalog:
        if not message.id or not isinstance(message.id, str) or "%(" in message.id:
            continue
        if (
            message.string != message.id
            and len(message.id) > 3
            and re.search("[a-z]{3}", message.id)
        ):
            out.append(message.id)
    return out


def untranslated(text: str) -> list[str]:
    return [s for s in english_strings() if re.search(rf"(?<![\w/.]){re.escape(s)}(?![\w])", text)]


async def main_text(page: Page) -> str:
    return str(await page.locator("body").inner_text())


def http(server: Any, cookie: str | None = None) -> httpx.AsyncClient:
    client: httpx.AsyncClient = server.client()
    if cookie:
        client.cookies.set("trubka_session", cookie)
    return client
