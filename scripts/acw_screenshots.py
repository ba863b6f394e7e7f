"""Screenshots of after-call work and the supervisor alerts, in Russian.

    .venv/bin/python scripts/acw_screenshots.py [--out docs/screenshots]

Runs Trubka and the simulated PBX in this process on a fresh database, has a caller talk
to agent 101 who asks for a pause during the call and then owes the wrap-up, and saves
`after-call-work-ru.png` (the panel in after-call work, 1366×768) and
`supervisor-alerts-ru.png` (the live view with a pending pause and alerts).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import expect  # noqa: E402

from tests.web.kit_panel import panel_stack, signed_in_page  # noqa: E402


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/acw.db"
        async with panel_stack(url, wrapup_limit=120, alert_wait_seconds=5) as stack:
            await stack.agent("anna", "101", language="ru")
            await stack.agent("boris", "102", language="ru")
            await stack.agent("boss", None, role="supervisor", language="ru")
            async with signed_in_page(stack, "anna") as page:
                call = stack.pbx.place_call("+74951110000", "Иван Петров", queue="support")
                await expect(page.locator("#pops .call-card")).to_have_count(1)
                stack.pbx.answer("101")
                await expect(page.locator("#agent-state")).to_have_attribute(
                    "data-state", "on_call"
                )
                stack.pbx.hang_up(call.linkedid)
                await expect(page.locator("#agent-state")).to_have_attribute(
                    "data-state", "wrap_up"
                )
                await page.wait_for_timeout(2500)  # the timer runs
                await page.screenshot(path=str(out / "after-call-work-ru.png"))
            second = stack.pbx.place_call("+74951110001", "Ольга", queue="help")
            async with stack.client("boris") as http, signed_in_page(stack, "boss") as page:
                await page.goto(stack.url + "/supervisor")
                stack.pbx.answer("102")
                await http.post("/api/panel/pause", json={"paused": True, "reason": "lunch"})
                stack.pbx.place_call("+74951110002", "Пётр", queue="help")
                await expect(page.locator('#alerts li[data-kind="long_wait"]')).to_have_count(
                    1, timeout=15_000
                )
                await page.screenshot(path=str(out / "supervisor-alerts-ru.png"), full_page=True)
                stack.pbx.hang_up(second.linkedid)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    folder = parser.parse_args().out
    folder.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(folder))
