"""The call page in headless Chromium (Debian's): a real processed recording plays, the
waveform is drawn from its peaks, seeking asks for a byte range answered 206, the
player is keyboard-driven, and an agent without access gets 403."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.kit_browser import CHROMIUM, CHROMIUM_ARGS, chromium
from tests.recordings.kit_app import CONTACTS, PASSWORD, RECORDED, RecordedApp, recorded_app

pytestmark = pytest.mark.browser

ARGS = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]


HAVE_CHROMIUM = Path(CHROMIUM).exists()


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


async def signed_in_page(
    browser: object, kit: RecordedApp, login: str, **context: object
) -> object:
    ctx = await browser.new_context(base_url=kit.url, **context)  # type: ignore[attr-defined]
    page = await ctx.new_page()
    await page.goto("/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def test_a_recording_plays_and_seeks_in_chromium(kit: RecordedApp, browser: object) -> None:
    call_id = kit.ids[RECORDED]
    page = await signed_in_page(browser, kit, "agent101", viewport={"width": 1366, "height": 768})
    audio_requests: list[tuple[str | None, int, str | None]] = []

    async def on_response(response: object) -> None:
        url: str = response.url  # type: ignore[attr-defined]
        if url.endswith(f"/api/calls/{call_id}/recording"):
            headers = await response.request.all_headers()  # type: ignore[attr-defined]
            audio_requests.append(
                (
                    headers.get("range"),
                    response.status,  # type: ignore[attr-defined]
                    response.headers.get("content-range"),  # type: ignore[attr-defined]
                )
            )

    page.on("response", on_response)  # type: ignore[attr-defined]
    await page.goto(f"/calls/{call_id}")  # type: ignore[attr-defined]
    wave = page.locator(".rec-wave")  # type: ignore[attr-defined]
    await wave.wait_for()
    # The waveform is drawn from the stored peaks: bars in two colours on the canvas.
    painted = await page.evaluate(  # type: ignore[attr-defined]
        """() => {
        const c = document.querySelector('.rec-wave');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let inked = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) inked++;
        return {inked, total: d.length / 4, width: c.width};
    }"""
    )
    assert painted["width"] > 300 and 0.05 < painted["inked"] / painted["total"] < 0.95, painted
    assert await wave.get_attribute("role") == "slider"
    download = page.locator(".rec-download")  # type: ignore[attr-defined]
    assert await download.get_attribute("href") == f"/api/calls/{call_id}/recording?download=1"

    # Play, then click at 75 % of the waveform: the element seeks there.
    await page.click(".rec-play")  # type: ignore[attr-defined]
    await page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('.rec-player audio').currentTime > 0.2", timeout=15000
    )
    box = await wave.bounding_box()
    await page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)  # type: ignore[attr-defined]
    await page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('.rec-player audio').currentTime > 8", timeout=15000
    )
    position = await page.evaluate(  # type: ignore[attr-defined]
        "() => document.querySelector('.rec-player audio').currentTime"
    )
    assert 8 < position < 12.5
    # Keyboard: Home goes back to the start, End to the end.
    await wave.focus()
    await page.keyboard.press("Home")  # type: ignore[attr-defined]
    await page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('.rec-player audio').currentTime < 3", timeout=15000
    )
    await page.keyboard.press("Space")  # type: ignore[attr-defined]
    await page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('.rec-player audio').paused", timeout=15000
    )
    assert audio_requests, "the audio element asked for nothing"
    assert all(status in (200, 206) for _, status, _ in audio_requests), audio_requests
    ranged = [r for r in audio_requests if r[0] is not None and r[1] == 206]
    assert ranged, audio_requests
    assert all(r[2] and r[2].startswith("bytes ") for r in ranged)

    # A slot added later by another script gets a player too.
    await page.evaluate(  # type: ignore[attr-defined]
        f"""() => {{
        const slot = document.createElement('div');
        slot.id = 'late';
        slot.dataset.recordingCallId = '{kit.ids[CONTACTS]}';
        document.querySelector('main').appendChild(slot);
    }}"""
    )
    await page.wait_for_function(  # type: ignore[attr-defined]
        "() => (document.querySelector('#late .rec-message') || {}).textContent"
        " === 'Этот звонок не записывался.'",
        timeout=15000,
    )


async def test_any_page_that_imports_the_script_gets_players(
    kit: RecordedApp, browser: object
) -> None:
    """The agent panel's case: a page of another feature (here the status page) imports
    only the script and adds a slot; strings and styles come by themselves."""
    page = await signed_in_page(browser, kit, "agent101")
    await page.goto("/status")  # type: ignore[attr-defined]
    assert await page.locator("#recording-player-i18n").count() == 0  # type: ignore[attr-defined]
    await page.evaluate(  # type: ignore[attr-defined]
        f"""() => {{
        const slot = document.createElement('div');
        slot.dataset.recordingCallId = '{kit.ids[RECORDED]}';
        document.querySelector('main').prepend(slot);
        const script = document.createElement('script');
        script.type = 'module';
        script.src = '/static/js/recording-player.js';
        document.head.appendChild(script);
    }}"""
    )
    button = page.locator(".rec-play")  # type: ignore[attr-defined]
    await button.wait_for()
    assert await button.get_attribute("aria-label") == "Воспроизвести"
    height = await page.evaluate(  # type: ignore[attr-defined]
        "() => getComputedStyle(document.querySelector('.rec-wave')).height"
    )
    assert height == "64px"


async def test_seeking_far_into_a_long_recording_asks_for_a_byte_range(
    tmp_path: Path, sqlite_template: Path, browser: object
) -> None:
    """A recording longer than the browser's first read: a seek near the end is a new
    request with a Range starting past 0, answered 206."""
    from tests.recordings.conftest import REAL_WAV
    from tests.recordings.test_pydub import looped

    long_wav = looped(REAL_WAV, tmp_path / "long.wav", minutes=30)
    path = tmp_path / "trubka.db"
    shutil.copy(sqlite_template, path)
    async with recorded_app(
        f"sqlite+aiosqlite:///{path}", tmp_path, source=long_wav, live=True
    ) as kit:
        call_id = kit.ids[RECORDED]
        page = await signed_in_page(browser, kit, "agent101")
        ranges: list[tuple[str | None, int, str | None]] = []

        def on_response(response: object) -> None:
            if response.url.endswith(f"/api/calls/{call_id}/recording"):  # type: ignore[attr-defined]
                ranges.append(
                    (
                        response.request.headers.get("range"),  # type: ignore[attr-defined]
                        response.status,  # type: ignore[attr-defined]
                        response.headers.get("content-range"),  # type: ignore[attr-defined]
                    )
                )

        page.on("response", on_response)  # type: ignore[attr-defined]
        await page.goto(f"/calls/{call_id}")  # type: ignore[attr-defined]
        wave = page.locator(".rec-wave")  # type: ignore[attr-defined]
        await wave.wait_for()
        await page.wait_for_function(  # type: ignore[attr-defined]
            "() => document.querySelector('.rec-player audio').readyState >= 1", timeout=15000
        )

        def far(response: object) -> bool:
            wanted = response.request.headers.get("range") or ""  # type: ignore[attr-defined]
            return response.url.endswith(f"/api/calls/{call_id}/recording") and (  # type: ignore[attr-defined]
                wanted.startswith("bytes=") and not wanted.startswith("bytes=0-")
            )

        async with page.expect_response(far, timeout=15000) as seen:  # type: ignore[attr-defined]
            await wave.focus()
            await page.keyboard.press("End")  # type: ignore[attr-defined]
            await page.keyboard.press("PageDown")  # type: ignore[attr-defined]
        response = await seen.value
        assert response.status == 206
        content_range = response.headers["content-range"]
        start = int(response.request.headers["range"].split("=")[1].split("-")[0])
        size = int(content_range.split("/")[1])
        assert content_range.startswith(f"bytes {start}-") and start > size // 2
        await page.wait_for_function(  # type: ignore[attr-defined]
            "() => { const a = document.querySelector('.rec-player audio');"
            " return a.currentTime > 1700 && !a.seeking; }",
            timeout=15000,
        )
        assert all(status in (200, 206) for _, status, _ in ranges), ranges


async def test_an_agent_without_access_gets_403(kit: RecordedApp, browser: object) -> None:
    call_id = kit.ids[RECORDED]
    page = await signed_in_page(browser, kit, "agent102")
    reply = await page.goto(f"/calls/{call_id}")  # type: ignore[attr-defined]
    assert reply.status == 403
    audio = await page.request.get(f"/api/calls/{call_id}/recording")  # type: ignore[attr-defined]
    assert audio.status == 403
    # On a page of theirs, a slot for that call says so instead of playing.
    await page.goto(f"/calls/{kit.ids[CONTACTS]}")  # type: ignore[attr-defined]
    await page.evaluate(  # type: ignore[attr-defined]
        f"""() => {{
        const slot = document.createElement('div');
        slot.id = 'other';
        slot.dataset.recordingCallId = '{call_id}';
        document.querySelector('main').appendChild(slot);
    }}"""
    )
    await page.wait_for_function(  # type: ignore[attr-defined]
        "() => (document.querySelector('#other .rec-message') || {}).textContent"
        " === 'У вас нет доступа к записи этого звонка.'",
        timeout=15000,
    )
