"""Screenshots of a contact's page with its history: a recorded call played inline with
the waveform player, in English and Russian.

    .venv/bin/python scripts/history_screenshots.py [--out docs/screenshots]

Runs Trubka in this process on a fresh database with a real recorded call (the test
kit's MixMonitor file, converted by ffmpeg as in production), gives the caller's number
to a contact with a note and a task, signs in as `agent101` in Debian's Chromium and
saves `contact-en.png` and `contact-ru.png` (1366 px wide, the whole page).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm.access import Actor  # noqa: E402
from crm.database import upgrade  # noqa: E402
from crm.schemas import ContactCreate, NoteCreate, TaskCreate  # noqa: E402
from tests.kit_browser import CHROMIUM_ARGS, chromium  # noqa: E402
from tests.recordings.kit_app import PASSWORD, RECORDED, RecordedApp, recorded_app  # noqa: E402


async def showcase(kit: RecordedApp) -> int:
    crm = kit.services.crm
    contact = await crm.contacts.create(
        ContactCreate(
            name="Мария Соколова",
            phones=["+79160000001", "+7 (916) 555-01-23"],
            emails=["m.sokolova@example.ru"],
            tags=["VIP"],
        ),
        Actor.system(),
    )
    contact_id = int(contact["id"])
    await crm.notes.create(
        NoteCreate(
            body="Просила перезвонить после 18:00 по поводу доставки.", contact_id=contact_id
        ),
        Actor.system(),
    )
    await crm.tasks.create(
        TaskCreate(title="Перезвонить по доставке", contact_id=contact_id), Actor.system()
    )
    return contact_id


async def shoot(kit: RecordedApp, contact_id: int, lang: str, path: Path) -> None:
    async with chromium(CHROMIUM_ARGS) as browser:
        ctx = await browser.new_context(
            base_url=kit.url, viewport={"width": 1366, "height": 768}, locale=lang
        )
        page = await ctx.new_page()
        await page.goto("/login")
        await page.fill("input[name=login]", "agent101")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_load_state()
        await ctx.add_cookies([{"name": "lang", "value": lang, "url": kit.url}])
        await page.goto(f"/contacts/{contact_id}")
        await page.wait_for_selector(f"[data-recording-call-id='{kit.ids[RECORDED]}'] .rec-wave")
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(path), full_page=True)
        await ctx.close()


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/history.db"
        await asyncio.to_thread(upgrade, url)
        async with recorded_app(url, Path(tmp), live=True) as kit:
            contact_id = await showcase(kit)
            for lang in ("en", "ru"):
                user = await kit.services.crm.users.get_by_login("agent101")
                assert user is not None
                await kit.services.crm.users.update(
                    user.id, user.version, {"language": lang}, actor=Actor.system()
                )
                await shoot(kit, contact_id, lang, out / f"contact-{lang}.png")
                print(out / f"contact-{lang}.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    target = parser.parse_args().out
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
