"""Screenshots of the agent's and the supervisor's day: the card's deals during a call,
"My work" and the report page's presets and agent sessions, in Russian.

    .venv/bin/python scripts/day_screenshots.py [--out docs/screenshots]

Runs Trubka and the simulated PBX in this process on a fresh demo database and Debian's
Chromium; saves `card-deals-ru.png` (a demo customer of Anna's calling, a deal added and
moved from the card), `my-work-ru.png` (1366×768), `my-work-phone-ru.png` (phone
width) and `reports-sessions-ru.png` (the supervisor's report page, this week).
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
            _contact_id, number = await showcase_contact(stack, anna.id)
            async with signed_in_page(stack, "agent101", password=DEMO_PASSWORD) as page:
                call = stack.pbx.place_call(number.lstrip("+"), "", queue="help")
                await page.wait_for_selector(".call-card.ringing .deals-section")
                stack.pbx.answer("101")
                card = page.locator(".call-card.current")
                await card.locator(".new-deal input[name=title]").fill("Годовой контракт")
                await card.locator(".new-deal input[name=amount]").fill("240000")
                await card.locator(".new-deal button[type=submit]").click()
                new = card.locator(".deal", has_text="Годовой контракт")
                await new.locator("select option").nth(2).wait_for(state="attached")
                await new.locator("select").select_option(index=2)
                await card.locator(".deal-status").filter(has_text="этап").wait_for()
                await card.locator(".deals-section").scroll_into_view_if_needed()
                await page.screenshot(path=str(out / "card-deals-ru.png"), full_page=False)
                stack.pbx.hang_up(call.linkedid)
                for _ in range(200):  # the call writer stores calls in batches
                    if await stack.services.calls.get(call.linkedid) is not None:
                        break
                    await asyncio.sleep(0.05)
                await page.goto(f"{stack.url}/my")
                await page.wait_for_selector("#overdue")
                await page.screenshot(path=str(out / "my-work-ru.png"), full_page=False)
            async with signed_in_page(
                stack, "agent101", password=DEMO_PASSWORD, viewport=(390, 844)
            ) as page:
                await page.goto(f"{stack.url}/my")
                await page.wait_for_selector("#overdue")
                await page.screenshot(path=str(out / "my-work-phone-ru.png"), full_page=False)
            async with signed_in_page(stack, "supervisor", password=DEMO_PASSWORD) as page:
                await page.goto(f"{stack.url}/reports")
                await page.click("a[data-preset=this_week]")
                await page.wait_for_selector("#sessions-table")
                await page.locator("#h-sessions").scroll_into_view_if_needed()
                await page.screenshot(path=str(out / "reports-sessions-ru.png"), full_page=False)
    for name in ("card-deals-ru.png", "my-work-ru.png", "my-work-phone-ru.png"):
        print(out / name)
    print(out / "reports-sessions-ru.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    target = parser.parse_args().out
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
