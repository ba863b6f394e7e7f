"""The call controls in the card, clicked in a real browser (Debian's Chromium) against a
real server and the simulated PBX: hold and resume, then a blind transfer to the
customer's manager picked from the transfer picker, which shows the colleagues' states;
the manager's panel pops, and the agent's own panel moves on to the wrap-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from crm.access import Actor
from crm.schemas import ContactCreate
from tests.web.kit_panel import CHROMIUM, next_message, panel_stack, signed_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
expect.set_options(timeout=10_000)


async def test_hold_resume_and_transfer_to_the_manager_from_the_card(sqlite_url: str) -> None:
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("anna", "101", language="ru")
        boris = await stack.agent("boris", "102")
        await stack.agent("vika", "103")
        await stack.services.crm.contacts.create(
            ContactCreate(name="Иван Петров", phones=["+74951110020"], owner_id=boris.id),
            Actor.system(),
        )
        async with (
            stack.client("boris") as bob,
            stack.socket(bob) as bob_ws,
            signed_in_page(stack, "anna") as page,
        ):
            call = stack.pbx.place_call("84951110020", "Ivan", queue="support")
            await expect(page.locator(".call-card.ringing")).to_be_visible()
            stack.pbx.answer("101")
            card = page.locator(".call-card.current")
            controls = card.locator(".call-controls")
            await expect(controls).to_be_visible()

            hold = controls.locator("[data-control=hold]")
            await expect(hold).to_have_text("Удержание")
            await hold.click()
            await expect(controls.locator(".on-hold")).to_have_text(
                "На удержании: клиент слышит музыку"
            )
            await expect(page.locator("#panel-message")).to_have_text(
                "Клиент на удержании и слышит музыку."
            )
            await expect(controls.locator("[data-control=transfer]")).to_be_disabled()
            await expect(hold).to_have_text("Вернуться к клиенту")
            await hold.click()
            await expect(controls.locator(".on-hold")).to_be_hidden()
            await expect(hold).to_have_text("Удержание")
            assert stack.pbx.server is not None
            names = [a.name.lower() for a in stack.pbx.server.received]
            assert "redirect" in names and "bridge" in names

            await controls.locator("[data-control=transfer]").click()
            picker = controls.locator(".transfer-picker")
            await expect(picker).to_contain_text("Ответственному менеджеру")
            vika = picker.locator("button[data-target=agent]", has_text="Vika")
            await expect(vika.locator(".badge")).to_have_text("Свободен")
            await expect(picker).to_contain_text("support: ждут 0, свободны 0")
            # The picker fits a phone's width.
            await page.set_viewport_size({"width": 390, "height": 800})
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0
            await page.set_viewport_size({"width": 1366, "height": 768})

            manager = picker.locator("button[data-target=agent]").first
            await expect(manager).to_contain_text("Boris (102)")
            await manager.click()
            await expect(page.locator("#panel-message")).to_have_text("Клиент переведён: Boris.")
            [sent] = [a for a in stack.pbx.server.received if a.name.lower() == "blindtransfer"]
            assert (sent.get("exten"), sent.get("context")) == ("102", "from-internal")

            pop = await next_message(bob_ws, "screen_pop", linkedid=call.linkedid)
            assert pop["caller_number"] == "+74951110020"
            stack.pbx.answer("102")
            await next_message(bob_ws, "call_answered", linkedid=call.linkedid)
            # Anna handed the call over: her panel asks for the wrap-up.
            await expect(page.locator(".call-card.wrapup")).to_be_visible()
            await expect(card).to_have_count(0)
