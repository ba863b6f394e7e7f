"""A Russian page shows no English from the catalogues' source language: every msgid that
can be found in the visible text of a page of each kind (panel, contacts, a contact's card,
a call's page, the live view, the wallboard, the reports, a 404) is translated, with the
keys the lower layers store (`lunch`, `routing-decision`, `created`, `answered`) among them."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from playwright.async_api import Page, expect

from crm.access import Actor
from crm.schemas import ContactCreate, DealCreate, NoteCreate
from tests.web.kit_panel import CHROMIUM, panel_stack, signed_in_page
from web.i18n import LOCALE_DIR, translations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
expect.set_options(timeout=10_000)


def english_words() -> list[tuple[str, re.Pattern[str]]]:
    """Every msgid a Russian page would show differently: (msgid, how to find it whole).
    Templates with placeholders are skipped (their filled form is not the msgid)."""
    with (LOCALE_DIR / "messages.pot").open("rb") as handle:
        ids = [m.id for m in read_po(handle) if isinstance(m.id, str) and m.id]
    russian = translations("ru")
    found = []
    for msgid in ids:
        if "{" in msgid or "%(" in msgid or len(msgid) < 3 or not re.search("[A-Za-z]{2}", msgid):
            continue
        if russian.gettext(msgid) == msgid:
            continue
        pattern = re.compile(r"(?<![\w-])" + re.escape(msgid) + r"(?![\w-])")
        found.append((msgid, pattern))
    return found


async def english_on(page: Page, words: list[tuple[str, re.Pattern[str]]]) -> list[str]:
    text = await page.locator("body").inner_text()
    titles = await page.evaluate(
        """() => [...document.querySelectorAll('[title],[aria-label],[placeholder]')]
            .flatMap(e => [e.title, e.getAttribute('aria-label'), e.placeholder || ''])
            .filter(Boolean).join('\\n')"""
    )
    seen = text + "\n" + titles + "\n" + await page.title()
    return sorted({msgid for msgid, pattern in words if pattern.search(seen)})


async def stored(stack: Any, linkedid: str) -> None:
    async with asyncio.timeout(20):
        while await stack.services.calls.get(linkedid) is None:  # noqa: ASYNC110 - a row
            await asyncio.sleep(0.05)


async def test_russian_pages_show_no_english(sqlite_url: str) -> None:
    words = english_words()
    assert len(words) > 300
    # the keys that leaked before are caught by the check itself
    leaks = "lunch · routing-decision · Interface paused successfully · answered"
    assert "answered" in {m for m, p in words if p.search(leaks)}
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("anna", "101", language="ru")
        await stack.agent("boris", "102", language="ru")
        # an admin: the reports also show the supervisor actions' audit
        boss = await stack.agent("boss", None, role="admin", language="ru")
        contact = await stack.services.crm.contacts.create(
            ContactCreate(name="Иван Петров", phones=["+74951110000"], owner_id=boss.id),
            Actor.system(),
        )
        await stack.services.crm.deals.create(
            DealCreate(title="Поставка", contact_id=contact["id"], amount="1000"), Actor.system()
        )
        await stack.services.crm.notes.create(
            NoteCreate(body="Просил перезвонить", contact_id=contact["id"]), Actor.system()
        )
        # a missed call (a callback task), then the customer calls again and anna answers
        missed = stack.pbx.place_call("84951110000", "Иван", queue="support", patience=0.3)
        await stored(stack, missed.linkedid)
        call = stack.pbx.place_call("84951110000", "Иван", queue="support", talk_time=0.3)
        async with asyncio.timeout(15):
            while True:
                try:
                    stack.pbx.answer("101")
                    break
                except LookupError:
                    await asyncio.sleep(0.05)
        await stored(stack, call.linkedid)
        async with stack.client("boss") as boss_api:
            paused = await boss_api.post(
                "/api/supervisor/pause",
                json={"agent": "Local/102@agents/n", "paused": True, "reason": "lunch"},
            )
            assert paused.status_code == 200, paused.text
        row = await stack.services.calls.get(call.linkedid)
        assert row is not None
        kinds = {step["kind"] for step in row.timeline}
        assert {"answered", "ended"} <= kinds, kinds
        today = datetime.now(UTC).date().isoformat()
        pages = [
            "/",
            "/contacts",
            f"/contacts/{contact['id']}",
            f"/calls/{row.id}",
            "/supervisor",
            "/wallboard",
            f"/reports?start={today}",
            "/nope",
            "/admin",
        ]
        async with signed_in_page(stack, "boss", landing="/admin") as page:
            await expect(page.locator("html")).to_have_attribute("lang", "ru")
            english: dict[str, list[str]] = {}
            for path in pages:
                await page.goto(stack.url + path)
                await page.wait_for_load_state("networkidle")
                if path == "/supervisor":
                    reason = page.locator('tr[data-agent] [data-f="reason"]', has_text="Обед")
                    await expect(reason).to_have_count(1)
                found = await english_on(page, words)
                if found:
                    english[path] = found
            assert english == {}
            await page.goto(f"{stack.url}/reports?start={today}")
            audit = page.locator("#h-audit").locator("xpath=ancestor::section")
            await expect(audit).to_contain_text("Пауза")
            await expect(audit).to_contain_text("Обед")
            await page.goto(f"{stack.url}/contacts/{contact['id']}")
            await expect(page.locator("#timeline")).to_contain_text("сделка создана")
            await page.goto(f"{stack.url}/calls/{row.id}")
            steps = page.locator(".call-steps")
            await expect(steps).to_contain_text("Отвечено")
            await expect(steps).to_contain_text("разговор 0 с, клиент положил трубку")
            await expect(steps).not_to_contain_text("talk 0s")
