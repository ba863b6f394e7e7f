"""A screenshot of the call controls in the card, the transfer picker open, in Russian.

    .venv/bin/python scripts/controls_screenshot.py [--out docs/screenshots]

Runs Trubka and the simulated PBX in this process on a fresh demo database, signs in as
`agent101` in Debian's Chromium, has a demo customer call in, answers it and opens the
transfer picker; saves `panel-controls-ru.png` (1366×768).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm.demo_data import DEMO_PASSWORD, seed_demo  # noqa: E402
from scripts.panel_screenshots import showcase_contact  # noqa: E402
from tests.web.kit_panel import panel_stack, signed_in_page  # noqa: E402


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/demo.db"
        async with panel_stack(url, agi=True) as stack:
            await seed_demo(stack.services.db, contacts=120)
            stack.services.crm.directory.invalidate()  # users made behind its back
            await stack.services.agent_directory.refresh()
            anna = await stack.services.crm.users.get_by_login("agent101")
            assert anna is not None
            _, number = await showcase_contact(stack, anna.id)
            async with signed_in_page(stack, "agent101", password=DEMO_PASSWORD) as page:
                stack.pbx.place_call(number.lstrip("+"), "", queue="help")
                await page.wait_for_selector(".call-card.ringing .card-sections")
                stack.pbx.answer("101")
                await page.wait_for_selector(".call-card.current .call-controls")
                await page.click("[data-control=transfer]")
                await page.wait_for_selector(".transfer-picker button[data-target=agent]")
                await page.screenshot(path=str(out / "panel-controls-ru.png"), full_page=False)
    print(out / "panel-controls-ru.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    target = parser.parse_args().out
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
