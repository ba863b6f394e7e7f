"""/api/docs works without internet in a real browser (Swagger UI from Trubka's own files),
and a browser that follows a wrong link lands on a page in its language."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Request, expect

from crm.database import Database
from tests.kit_browser import CHROMIUM, chromium
from tests.kit_server import LiveServer
from trubka.app import build_app
from trubka.settings import load_settings

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
expect.set_options(timeout=10_000)


async def test_swagger_ui_loads_from_trubka_alone(db: Database, database_url: str) -> None:
    app = build_app(load_settings(database_url=database_url))
    async with LiveServer(app) as server, chromium() as browser:
        context = await browser.new_context(locale="ru-RU")
        page = await context.new_page()
        elsewhere: list[str] = []
        errors: list[str] = []

        def watch(request: Request) -> None:
            if not request.url.startswith(server.url) and not request.url.startswith("data:"):
                elsewhere.append(request.url)

        page.on("request", watch)
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(server.url + "/api/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Trubka")
        await expect(page.locator(".opblock-tag-section").first).to_be_visible()
        assert elsewhere == [] and errors == []

        icon = await page.goto(server.url + "/favicon.ico")
        assert icon is not None and icon.status == 200
        missing = await page.goto(server.url + "/no/such/page")
        assert missing is not None and missing.status == 404
        await expect(page.locator("h1")).to_contain_text("Страница не найдена")
        await expect(page.locator("html")).to_have_attribute("lang", "ru")
        await context.close()
