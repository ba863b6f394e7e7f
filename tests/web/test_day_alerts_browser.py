"""Alerts for a call that rings while the panel's tab is in the background: the tab's
title, a browser notification (permission granted to the context; a spy on
`window.Notification` records what the page creates) and the sound; the permission is
asked once, from a click."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.web.kit_panel import CHROMIUM, panel_stack, signed_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
expect.set_options(timeout=10_000)

# Runs before the page's scripts: a spy in front of the real Notification, a counter of
# sounds played, and a page visibility the test sets (`window.__visibility`).
SPY = """
(() => {
  const Real = window.Notification;
  window.__notifications = [];
  window.__permissionAsked = 0;
  window.__played = [];
  function Spy(title, options) {
    const record = { title, body: (options || {}).body, closed: false };
    window.__notifications.push(record);
    let real = null;
    try { real = new Real(title, options); } catch (error) { real = null; }
    return { close() { record.closed = true; if (real) real.close(); }, set onclick(f) {} };
  }
  Object.defineProperty(Spy, "permission", {
    get() { return window.__forcePermission || Real.permission; },
  });
  Spy.requestPermission = () => {
    window.__permissionAsked += 1;
    return Promise.resolve("granted");
  };
  window.Notification = Spy;
  HTMLMediaElement.prototype.play = function () {
    window.__played.push(this.currentSrc || this.src);
    return Promise.resolve();
  };
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true, get() { return window.__visibility || "visible"; },
  });
  Object.defineProperty(Document.prototype, "hidden", {
    configurable: true, get() { return (window.__visibility || "visible") === "hidden"; },
  });
})();
"""
FORCE_DEFAULT = "window.__forcePermission = 'default';"


async def set_visibility(page: Page, state: str) -> None:
    await page.evaluate(
        "(state) => { window.__visibility = state;"
        " document.dispatchEvent(new Event('visibilitychange')); }",
        state,
    )


@pytest.mark.parametrize(
    ("lang", "title"), [("en", "☎ Incoming: Reload Test"), ("ru", "☎ Входящий: Reload Test")]
)
async def test_a_pop_in_a_hidden_tab_flashes_the_title_notifies_and_rings(
    sqlite_url: str, lang: str, title: str
) -> None:
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("anna", "101", language=lang)
        async with signed_in_page(stack, "anna") as page:
            await page.context.grant_permissions(["notifications"], origin=stack.url)
            await page.context.add_init_script(SPY)
            await page.reload()
            await page.wait_for_selector("body[data-live=open]")
            base = await page.title()
            assert await page.evaluate("Notification.permission") == "granted"
            # granted already: no button asking for it
            await expect(page.locator("#notify-button")).to_have_count(0)

            # In view, a pop alerts nobody: the card is on the screen.
            first = stack.pbx.place_call("+74951110077", "Reload Test", queue="support")
            await expect(page.locator(".call-card.ringing")).to_have_count(1)
            assert await page.evaluate("window.__notifications.length") == 0
            assert await page.title() == base
            stack.pbx.hang_up(first.linkedid)
            await expect(page.locator(".call-card.ringing")).to_have_count(0)

            await set_visibility(page, "hidden")
            call = stack.pbx.place_call("+74951110077", "Reload Test", queue="support")
            await expect(page).to_have_title(title)
            notes = await page.evaluate("window.__notifications")
            assert [n["title"] for n in notes] == [title]
            played = await page.evaluate("window.__played")
            assert len(played) == 1 and played[0].endswith("/static/sounds/incoming.wav")

            # Answered: the notification closes and the title comes back.
            stack.pbx.answer("101")
            await expect(page.locator(".call-card.current")).to_have_count(1)
            await expect(page).to_have_title(base)
            assert (await page.evaluate("window.__notifications"))[0]["closed"] is True
            stack.pbx.hang_up(call.linkedid)

            # Back in view while ringing: the title stops flashing at once.
            third = stack.pbx.place_call("+74951110078", "Second", queue="support")
            await expect(page).to_have_title(title.replace("Reload Test", "Second"))
            await set_visibility(page, "visible")
            await expect(page).to_have_title(base)
            stack.pbx.hang_up(third.linkedid)


async def test_the_permission_is_asked_once_from_a_click(sqlite_url: str) -> None:
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("anna", "101", language="ru")
        async with signed_in_page(stack, "anna") as page:
            await page.context.add_init_script(SPY + FORCE_DEFAULT)
            await page.reload()
            await page.wait_for_selector("body[data-live=open]")
            button = page.locator("#notify-button")
            await expect(button).to_have_text("Включить уведомления о звонках")
            assert await page.evaluate("window.__permissionAsked") == 0  # not without a click
            await button.click()
            await expect(button).to_have_count(0)
            assert await page.evaluate("window.__permissionAsked") == 1
            await page.reload()
            await page.wait_for_selector("body[data-live=open]")
            await expect(page.locator("#notify-button")).to_have_count(0)  # asked once
