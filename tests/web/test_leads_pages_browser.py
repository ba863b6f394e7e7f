"""The pages of webhooks, API tokens, stage probabilities and the sales forecast in
Chromium: in English and Russian they fit 1366×768 and a phone's 390 px without
scrolling sideways (long URLs, errors and names included), and the Russian pages show
none of this feature's English."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from babel.messages.pofile import read_po
from playwright.async_api import Browser
from sqlalchemy import update

from crm.access import Actor
from crm.hooks.ping import send_test_event
from crm.models import Deal
from crm.schemas import DealCreate
from tests.kit_browser import CHROMIUM, chromium
from tests.kit_server import LiveServer
from tests.web.kit_admin_rules import (
    SCREENSHOTS,
    WIDTHS,
    fits,
    main_text,
    open_as,
    user_cookie,
)
from tests.web.test_admin_settings_api import app_for
from web.i18n import LOCALE_DIR

pytestmark = pytest.mark.browser
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
SAVE_SHOTS = os.environ.get("TRUBKA_SCREENSHOTS") == "1"  # docs/screenshots/, on request
SHOTS = {"/reports/forecast": "forecast-ru.png", "/admin/webhooks": "webhooks-ru.png"}
LONG_URL = "http://127.0.0.1:9/" + "a-very-long-path-segment/" * 8 + "?token=" + "x" * 60


def month_after(day: date, months: int, on: int = 15) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, on)


async def seed_deals(services: Any, owner_id: int) -> None:
    """Open deals over the next months in several stages, and deals won in past months."""
    today = date.today()
    stages = {s["name"]: s["id"] for p in await services.crm.pipelines.list() for s in p["stages"]}
    plan = [
        ("Рояль", "Новая", "120000.00", 1),
        ("Скрипка", "Переговоры", "85000.00", 1),
        ("Флейта", "Предложение", "40000.00", 2),
        ("Орган", "Квалификация", "300000.00", 3),
        ("Арфа", "Успешно", "90000.00", 0),
        ("Туба", "Успешно", "60000.00", 0),
        ("Гобой", "Успешно", "30000.00", 0),
    ]
    won = []
    for title, stage, amount, ahead in plan:
        deal = DealCreate(
            title=title,
            stage_id=stages[stage],
            amount=Decimal(amount),
            owner_id=owner_id,
            expected_close_on=month_after(today, ahead) if ahead else None,
        )
        made = await services.crm.deals.create(deal, Actor.system())
        if not ahead:
            won.append(made["id"])
    async with services.db.transaction() as session:
        for back, deal_id in enumerate(won, start=1):
            closed = month_after(today, -back, 10)
            await session.execute(
                update(Deal)
                .where(Deal.id == deal_id)
                .values(closed_at=datetime(closed.year, closed.month, 10, 12, tzinfo=UTC))
            )


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    async with chromium() as launched:
        yield launched


def english_of_this_feature() -> list[str]:
    with (LOCALE_DIR / "ru" / "LC_MESSAGES" / "leads.po").open("rb") as handle:
        catalog = read_po(handle, locale="ru")
    return [
        str(m.id)
        for m in catalog
        if m.id
        and isinstance(m.id, str)
        and m.string != m.id
        and "%(" not in m.id
        and "{" not in m.id
        and len(m.id) > 3
        and re.search("[a-z]{4}", m.id)
    ]


async def test_the_pages_fit_and_are_translated(browser: Browser, database_url: str) -> None:
    app = app_for(
        database_url,
        webhook_backoff_initial=30.0,
        webhook_poll_interval=0.02,
        webhook_timeout=0.5,
    )
    async with LiveServer(app) as server:
        services = app.state.services
        await user_cookie(server, "admin", language="en")
        admin = await services.crm.users.get_by_login("admin-en")
        assert admin is not None
        hook = await services.crm.webhooks.create(
            LONG_URL, ["call.missed", "contact.created", "deal.created"], "s" * 16, None
        )
        await send_test_event(services.db, hook["id"])
        await services.crm.tokens.create("сайт — форма заявки на главной", ["leads"], admin.id)
        await seed_deals(services, admin.id)
        english = english_of_this_feature()
        for language in ("en", "ru"):
            cookie = await user_cookie(server, "admin", language=language)
            paths = [
                "/admin/webhooks",
                f"/admin/webhooks/{hook['id']}",
                "/admin/tokens",
                "/admin/pipelines",
                "/reports/forecast",
            ]
            for width, height in WIDTHS:
                for path in paths:
                    page = await open_as(browser, server, path, cookie, width=width, height=height)
                    assert await page.title(), path
                    await fits(page, width)
                    shot = SHOTS.get(path)
                    if SAVE_SHOTS and shot and language == "ru" and width == 1366:
                        await page.screenshot(path=str(SCREENSHOTS / shot), full_page=True)
                    if language == "ru":
                        text = await main_text(page)
                        left = [
                            s
                            for s in english
                            if re.search(rf"(?<![\w/.]){re.escape(s)}(?![\w])", text)
                        ]
                        assert left == [], (path, left)
                    await page.context.close()
