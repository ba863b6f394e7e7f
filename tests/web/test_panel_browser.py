"""The agent panel in a real browser (Debian's Chromium through Playwright) against a real
server and the simulated PBX: screen pop, answer, hang up, wrap-up, the contact's
history; unknown numbers and contact creation; Russian; escaping; reconnects; pausing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import expect

from crm.access import Actor
from crm.schemas import ContactCreate, DealCreate, NoteCreate, TaskCreate
from crm.wrapups import WrapupService
from tests.web.kit_panel import CHROMIUM, Stack, panel_stack, signed_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
expect.set_options(timeout=10_000)


async def known_customer(stack: Stack, manager_id: int) -> int:
    crm, system = stack.services.crm, Actor.system()
    contact = await crm.contacts.create(
        ContactCreate(name="Иван Петров", phones=["+74951110000"], owner_id=manager_id), system
    )
    contact_id = int(contact["id"])
    await crm.notes.create(NoteCreate(contact_id=contact_id, body="Prefers mornings"), system)
    await crm.tasks.create(
        TaskCreate(title="Send the price list", contact_id=contact_id, assignee_id=manager_id),
        system,
    )
    await crm.deals.create(
        DealCreate(title="Order 42", contact_id=contact_id, amount=125000), system
    )
    return contact_id


WORDS = {
    "en": {"manager": "Responsible manager", "saved": "Saved to the contact's history."},
    "ru": {"manager": "Ответственный менеджер", "saved": "Сохранено в истории контакта."},
}


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_known_customer_pop_answer_hang_up_and_wrap_up(sqlite_url: str, lang: str) -> None:
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("anna", "101", language=lang)
        boris = await stack.agent("boris", None)
        contact_id = await known_customer(stack, boris.id)
        async with signed_in_page(stack, "anna") as page:
            await expect(page.locator("html")).to_have_attribute("lang", lang)
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
            call = stack.pbx.place_call("84951110000", "Ivan P", queue="support")
            pop = page.locator(".call-card.ringing")
            await expect(pop.locator(".caller-name")).to_have_text("Иван Петров")
            await expect(pop.locator(".caller-number")).to_contain_text("8 (495) 111-00-00")
            await expect(pop).to_contain_text(WORDS[lang]["manager"])
            await expect(pop).to_contain_text("Boris")
            await expect(pop).to_contain_text("Prefers mornings")
            await expect(pop).to_contain_text("Send the price list")
            await expect(pop).to_contain_text("Order 42")
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ringing")

            stack.pbx.answer("101")
            current = page.locator(".call-card.current")
            await expect(current.locator(".caller-name")).to_have_text("Иван Петров")
            await expect(page.locator("#call-timer")).to_have_text("0:01", timeout=5000)
            await page.fill("#call-notes", "Wants a discount on order 42")

            stack.pbx.hang_up(call.linkedid)
            wrapup = page.locator(".call-card.wrapup")
            await expect(wrapup).to_be_visible()
            await expect(wrapup.locator("textarea")).to_have_value("Wants a discount on order 42")
            await wrapup.locator("select").select_option("follow_up")
            await wrapup.locator("input[type=checkbox]").check()
            await wrapup.locator("button[type=submit]").click()
            await expect(page.locator("#panel-message")).to_have_text(WORDS[lang]["saved"])
            await expect(wrapup).to_have_count(0)

            await page.goto(f"{stack.url}/contacts/{contact_id}")
            timeline = page.locator("#timeline")
            await expect(timeline).to_contain_text("Wants a discount on order 42")
        saved = await WrapupService(stack.services.db).for_calls([call.linkedid])
        (wrap,) = saved[call.linkedid]
        assert wrap["disposition"] == "follow_up" and wrap["contact_id"] == contact_id
        assert wrap["task_id"] is not None and wrap["note_id"] is not None


async def test_unknown_number_create_the_contact_from_the_pop(sqlite_url: str) -> None:
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("anna", "101", language="ru")
        async with signed_in_page(stack, "anna") as page:
            call = stack.pbx.place_call("+79260001122", "", queue="support")
            pop = page.locator(".call-card.ringing")
            await expect(pop.locator(".caller-name")).to_have_text("Неизвестный номер")
            form = pop.locator("form.create-contact")
            await expect(form.locator("input[name=phone]")).to_have_value("8 (926) 000-11-22")
            await form.locator("input[name=name]").fill("Новый Клиент")
            await form.locator("button[type=submit]").click()
            await expect(pop.locator(".caller-name")).to_have_text("Новый Клиент")

            stack.pbx.answer("101")
            await expect(page.locator(".call-card.current .caller-name")).to_have_text(
                "Новый Клиент"
            )
            stack.pbx.hang_up(call.linkedid)
            wrapup = page.locator(".call-card.wrapup")
            await wrapup.locator("select").select_option("resolved")
            await wrapup.locator("textarea").fill("Первый звонок, всё объяснили")
            await wrapup.locator("button[type=submit]").click()
            await expect(page.locator("#panel-message")).to_have_text(
                "Сохранено в истории контакта."
            )
            found = await stack.services.crm.search.search("Новый Клиент")
            (contact,) = found["contacts"]
            assert [p["number"] for p in contact["phones"]] == ["+79260001122"]
            # The call writer stores calls in batches and links them afterwards: the
            # contact's page shows the call once it is stored and linked.
            for _ in range(200):
                row = await stack.services.calls.get(call.linkedid)
                if row is not None and row.contact_id == contact["id"]:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the call was not stored and linked to the contact")
            await page.goto(f"{stack.url}/contacts/{contact['id']}")
            await expect(page.locator("#timeline")).to_contain_text("Первый звонок, всё объяснили")
            await expect(page.locator("#timeline")).to_contain_text("Решено")


async def test_a_script_caller_name_is_shown_as_text(sqlite_url: str) -> None:
    hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("anna", "101")
        async with signed_in_page(stack, "anna") as page:
            stack.pbx.place_call("+79261234567", hostile, queue="support")
            pop = page.locator(".call-card.ringing")
            await expect(pop.locator(".caller-name")).to_have_text(hostile)
            assert await pop.locator("img, script").count() == 0
            assert await page.evaluate("window.__pwned") is None
            # The create-contact form is prefilled with the name, as text.
            await expect(pop.locator("input[name=name]")).to_have_value(hostile)


async def test_reload_while_ringing_pops_again_and_pause_comes_from_the_pbx(
    sqlite_url: str,
) -> None:
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("anna", "101")
        async with signed_in_page(stack, "anna") as page:
            call = stack.pbx.place_call("+74951110077", "Reload Test", queue="support")
            await expect(page.locator(".call-card.ringing .caller-name")).to_have_text(
                "Reload Test"
            )
            await page.reload()
            await page.wait_for_selector("body[data-live=open]")
            await expect(page.locator(".call-card.ringing .caller-name")).to_have_text(
                "Reload Test"
            )
            stack.pbx.hang_up(call.linkedid)
            await expect(page.locator(".call-card.ringing")).to_have_count(0)
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")

            await page.select_option("#pause-reason", "lunch")
            await page.click("#pause-button")
            await expect(page.locator("#agent-state")).to_have_text("Paused: Lunch")
            member = stack.pbx.engine.member("support", "Local/101@agents/n")
            assert member is not None and member.paused and member.paused_reason == "lunch"
            await page.click("#unpause-button")
            await expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
