"""The contact's history in headless Chromium (Debian's): the recording of a call plays
from the contact page (the audio is fetched, 206 with audio bytes), each call links to its
page `/calls/<id>`, and the contact, contacts and reports pages fit the window at a
phone's 390 px and a laptop's 1366 px (no sideways scrolling)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from crm.access import Actor
from crm.schemas import ContactCreate
from tests.kit_browser import CHROMIUM, CHROMIUM_ARGS, chromium
from tests.recordings.kit_app import PASSWORD, RECORDED, RecordedApp, recorded_app

pytestmark = pytest.mark.browser

ARGS = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
HAVE_CHROMIUM = Path(CHROMIUM).exists()
RECORDED_CALLER = "+79160000001"  # the recorded call's caller in kit_app
LONG_NAME = "Константин Константинопольский-Рождественский"


@pytest.fixture
async def kit(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[RecordedApp]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    path = tmp_path / "trubka.db"
    shutil.copy(sqlite_template, path)
    async with recorded_app(f"sqlite+aiosqlite:///{path}", tmp_path, live=True) as app:
        yield app


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    async with chromium(ARGS) as browser:
        yield browser


async def recorded_contact(kit: RecordedApp) -> int:
    """A contact owning the recorded call's number (its calls are linked to it)."""
    created = await kit.services.crm.contacts.create(
        ContactCreate(name=LONG_NAME, phones=[RECORDED_CALLER, "+7 (916) 555-01-23"]),
        Actor.system(),
    )
    return int(created["id"])


async def signed_in_page(browser: object, kit: RecordedApp, login: str, width: int) -> object:
    ctx = await browser.new_context(  # type: ignore[attr-defined]
        base_url=kit.url, viewport={"width": width, "height": 800}, locale="ru-RU"
    )
    page = await ctx.new_page()
    await page.goto("/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def test_the_recording_plays_from_the_contact_page_and_the_call_links_to_its_page(
    kit: RecordedApp, browser: object
) -> None:
    contact_id = await recorded_contact(kit)
    call_id = kit.ids[RECORDED]
    page = await signed_in_page(browser, kit, "agent101", 1366)

    def partial_audio(response: Any) -> bool:
        return bool(response.url.endswith(f"/{call_id}/recording") and response.status == 206)

    async with page.expect_response(partial_audio, timeout=20000) as audio:  # type: ignore[attr-defined]
        await page.goto(f"/contacts/{contact_id}")  # type: ignore[attr-defined]
        wave = page.locator(f"#timeline [data-recording-call-id='{call_id}'] .rec-wave")  # type: ignore[attr-defined]
        await wave.wait_for(timeout=15000)
        await page.click(f"[data-recording-call-id='{call_id}'] .rec-play")  # type: ignore[attr-defined]
        await page.wait_for_function(  # type: ignore[attr-defined]
            "() => document.querySelector('#timeline .rec-player audio').currentTime > 0.2",
            timeout=15000,
        )
    response = await audio.value
    assert response.headers["content-type"].startswith("audio/"), response.headers
    assert response.headers["content-range"].startswith("bytes "), response.headers
    assert len(await response.body()) > 1000

    link = page.locator(f"#timeline a[href='/calls/{call_id}']")  # type: ignore[attr-defined]
    assert await link.count() == 1
    await link.click()
    await page.wait_for_url(f"**/calls/{call_id}")  # type: ignore[attr-defined]
    await page.locator(".rec-wave").wait_for(timeout=15000)  # type: ignore[attr-defined]


WIDTHS = """() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,
  [...document.querySelectorAll('.table-wrap')].map((w) => w.scrollWidth - w.clientWidth)]"""


async def widths(page: object, path: str) -> tuple[int, int, list[int]]:
    """The document's width, the window's, and by how much each table overflows its box."""
    await page.goto(path)  # type: ignore[attr-defined]
    await page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]
    found = await page.evaluate(WIDTHS)  # type: ignore[attr-defined]
    return int(found[0]), int(found[1]), [int(x) for x in found[2]]


@pytest.mark.parametrize("width", [390, 1366])
async def test_contact_contacts_and_reports_pages_fit_the_window(
    kit: RecordedApp, browser: object, width: int
) -> None:
    contact_id = await recorded_contact(kit)
    agent = await signed_in_page(browser, kit, "agent101", width)
    for path in (f"/contacts/{contact_id}", "/contacts", "/contacts?q=916"):
        wide, window, tables = await widths(agent, path)
        assert wide <= window, (path, wide, window)
        assert all(over <= 0 for over in tables), (path, tables)  # no sideways scrolling
    supervisor = await signed_in_page(browser, kit, "supervisor", width)
    for path in ("/reports?start=2026-11-26&end=2026-11-27", "/reports"):
        wide, window, tables = await widths(supervisor, path)
        assert wide <= window, (path, wide, window)
        if width >= 1366:  # a laptop shows every report table whole (a phone scrolls them)
            assert all(over <= 0 for over in tables), (path, tables)


async def test_the_pop_cards_last_calls_play_and_link_and_a_flagged_number_has_no_call_button(
    kit: RecordedApp, browser: object
) -> None:
    """The panel's card (the script that renders a pop, fed the contact's card from the
    API): the recorded last call plays inline and links to its page; a number an import
    kept as entered shows a warning instead of a Call button."""
    contact_id = await recorded_contact(kit)
    call_id = kit.ids[RECORDED]
    page = await signed_in_page(browser, kit, "agent101", 1366)
    async with page.expect_response(  # type: ignore[attr-defined]
        lambda r: r.url.endswith(f"/{call_id}/recording") and r.status == 206, timeout=20000
    ):
        await page.evaluate(  # type: ignore[attr-defined]
            f"""async () => {{
            const {{ renderCard }} = await import('/static/js/panel/card.js');
            const card = await (await fetch('/api/contacts/{contact_id}/card')).json();
            const flagged = {{ raw: '12-ab', number: '12-ab', valid: false, label: null }};
            card.contact.phones.push(flagged);
            const message = {{ linkedid: 'pop-1', caller_number: '{RECORDED_CALLER}' }};
            const node = renderCard(message, card, 'current', {{ call() {{}} }});
            node.id = 'pop';
            document.querySelector('main').prepend(node);
        }}"""
        )
        await page.locator(
            f"#pop .last-call [data-recording-call-id='{call_id}'] .rec-wave"
        ).wait_for(  # type: ignore[attr-defined]
            timeout=15000
        )
        await page.click(f"#pop [data-recording-call-id='{call_id}'] .rec-play")  # type: ignore[attr-defined]
        await page.wait_for_function(  # type: ignore[attr-defined]
            "() => document.querySelector('#pop .rec-player audio').currentTime > 0.2",
            timeout=15000,
        )
    link = page.locator(f"#pop .last-call a[href='/calls/{call_id}']")  # type: ignore[attr-defined]
    assert await link.count() == 1
    flagged = page.locator("#pop dd:has(.phone-flagged)")  # type: ignore[attr-defined]
    assert await flagged.count() == 1
    assert "12-ab" in await flagged.inner_text()
    assert await flagged.locator("button").count() == 0
