"""The browser tests' shared Chromium and Playwright driver (tests/kit_browser.py,
tests/kit_playwright.py): a test gets a working browser after the driver died, after
Chromium died, and after an earlier test never gave the driver back; and what one test
opened is gone for the next."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

import tests.kit_playwright as kit_playwright
from tests.kit_browser import CHROMIUM, CHROMIUM_ARGS, _running, chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


async def _a_page_works(text: str) -> None:
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        await page.set_content(f"<p>{text}</p>")
        assert await page.text_content("p") == text


def _driver() -> kit_playwright._Driver:
    driver = kit_playwright._driver
    if driver is None:
        pytest.skip("this Playwright is not the one tests/kit_playwright.py knows")
    return driver


async def test_one_driver_serves_test_after_test_and_a_nested_browser() -> None:
    await _a_page_works("first")
    driver = _driver()
    async with chromium() as outer, chromium() as inner:  # two agents' browsers at once
        assert outer is not inner
        page = await (await inner.new_context()).new_page()
        await page.set_content("<p>inner</p>")
    await _a_page_works("second")
    assert kit_playwright._driver is driver


async def test_contexts_of_a_test_are_closed_when_it_leaves() -> None:
    async with chromium() as browser:
        context = await browser.new_context()
        await context.add_cookies([{"name": "k", "value": "v", "url": "http://127.0.0.1/"}])
        opened = len(browser.contexts)
    async with chromium() as browser:
        assert len(browser.contexts) == opened - 1  # only the browser's default one is left
        fresh = await browser.new_context()
        assert await fresh.cookies() == []


async def test_a_driver_that_died_is_replaced() -> None:
    await _a_page_works("before")
    driver = _driver()
    driver.proc.kill()
    await asyncio.to_thread(driver.proc.wait)
    await asyncio.to_thread(driver._reader.join, 10)  # the reader saw the pipe close
    assert driver.ended
    await _a_page_works("after")
    assert kit_playwright._driver is not driver


async def test_a_chromium_that_died_is_started_again() -> None:
    await _a_page_works("before")
    running = _running[tuple(CHROMIUM_ARGS)]
    running.proc.kill()
    await asyncio.to_thread(running.proc.wait)
    await _a_page_works("after")
    assert _running[tuple(CHROMIUM_ARGS)] is not running


async def test_a_driver_never_given_back_is_replaced() -> None:
    await _a_page_works("before")
    driver = _driver()

    def a_test_stopped_in_the_middle() -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(driver.lend())  # and never take_back()
        finally:
            loop.close()

    thread = threading.Thread(target=a_test_stopped_in_the_middle)
    thread.start()
    await asyncio.to_thread(thread.join)
    await _a_page_works("after")
    assert kit_playwright._driver is not driver
