"""Screenshots of the agent panel with a popped card, in Russian and English.

    .venv/bin/python scripts/panel_screenshots.py [--out docs/screenshots]

Runs Trubka and the simulated PBX in this process on a fresh demo database, signs in as
`agent101` in Debian's Chromium, has a demo customer whose manager is Anna call in (the
call is routed to her over FastAGI, so the card says why), and saves
`panel-ru.png`, `panel-en.png` (1366×768) and `panel-phone-ru.png` (phone width). The
contact page's screenshots (with a recorded call) are `scripts/history_screenshots.py`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from crm.demo_data import DEMO_PASSWORD, seed_demo  # noqa: E402
from crm.models import Contact, Deal, Note, Phone, Task  # noqa: E402
from tests.web.kit_panel import Stack, panel_stack, signed_in_page  # noqa: E402


async def showcase_contact(stack: Stack, owner_id: int) -> tuple[int, str]:
    """A demo contact of this manager with notes, an open task and a deal."""
    async with stack.services.db.session() as session:
        row = (
            await session.execute(
                select(Contact.id, Phone.number)
                .join(Phone, Phone.contact_id == Contact.id)
                .where(
                    Contact.owner_id == owner_id,
                    Contact.id.in_(select(Note.contact_id)),
                    Contact.id.in_(select(Task.contact_id)),
                    Contact.id.in_(select(Deal.contact_id)),
                )
                .order_by(Contact.id)
                .limit(1)
            )
        ).first()
    if row is None:
        raise SystemExit("the demo data has no contact to show")
    return int(row[0]), str(row[1])


async def set_language(stack: Stack, login: str, lang: str) -> None:
    users = stack.services.crm.users
    user = await users.get_by_login(login)
    assert user is not None
    from crm.access import Actor

    await users.update(user.id, user.version, {"language": lang}, actor=Actor.system())


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/demo.db"
        async with panel_stack(url, agi=True) as stack:
            await seed_demo(stack.services.db, contacts=120)
            stack.services.crm.directory.invalidate()  # users made behind its back
            await stack.services.agent_directory.refresh()
            anna = await stack.services.crm.users.get_by_login("agent101")
            assert anna is not None
            _contact_id, number = await showcase_contact(stack, anna.id)
            async with signed_in_page(stack, "agent101", password=DEMO_PASSWORD) as page:
                stack.pbx.place_call(number.lstrip("+"), "", queue="help")
                await page.wait_for_selector(".call-card.ringing .card-sections")
                await page.wait_for_selector(".call-card.ringing .why")
                await page.screenshot(path=str(out / "panel-ru.png"), full_page=False)
                await set_language(stack, "agent101", "en")
                await page.reload()
                await page.wait_for_selector(".call-card.ringing .card-sections")
                await page.screenshot(path=str(out / "panel-en.png"), full_page=False)
            await set_language(stack, "agent101", "ru")
            async with signed_in_page(
                stack, "agent101", password=DEMO_PASSWORD, viewport=(390, 844)
            ) as page:
                await page.wait_for_selector(".call-card.ringing .card-sections")
                await page.screenshot(path=str(out / "panel-phone-ru.png"), full_page=False)
    for name in ("panel-ru.png", "panel-en.png", "panel-phone-ru.png"):
        print(out / name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    target = parser.parse_args().out
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
