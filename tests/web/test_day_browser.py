"""The agent's day in Chromium: deals made and moved from the card during a call (the
contact page shows them), and the "My work" page in Russian and English."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from crm.access import Actor
from crm.schemas import ContactCreate, DealCreate
from supervisor.presets import local_today, preset_period
from tests.web.kit_panel import CHROMIUM, Stack, panel_stack, signed_in_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
expect.set_options(timeout=10_000)


async def test_a_deal_is_created_and_moved_from_the_card_during_a_call(sqlite_url: str) -> None:
    async with panel_stack(sqlite_url) as stack:
        anna = await stack.agent("anna", "101", language="ru")
        crm, system = stack.services.crm, Actor.system()
        contact = await crm.contacts.create(
            ContactCreate(name="Иван Петров", phones=["+74951110000"], owner_id=anna.id), system
        )
        old = await crm.deals.create(
            DealCreate(title="Order 42", contact_id=contact["id"], owner_id=anna.id), system
        )
        async with signed_in_page(stack, "anna") as page:
            call = stack.pbx.place_call("84951110000", "Ivan P", queue="support")
            await expect(page.locator(".call-card.ringing .caller-name")).to_have_text(
                "Иван Петров"
            )
            stack.pbx.answer("101")
            card = page.locator(".call-card.current")
            await expect(card.locator(".deal-title")).to_have_text(["Order 42"])

            form = card.locator("form.new-deal")
            await form.locator("input[name=title]").fill("Заказ <b>77</b>")
            await form.locator("input[name=amount]").fill("15 000,50")
            await form.locator("input[name=expected_close_on]").fill("2027-03-31")
            await form.locator("button[type=submit]").click()
            status = card.locator(".deal-status")
            await expect(status).to_have_text("Сделка «Заказ <b>77</b>» создана.")
            new = card.locator(".deal", has_text="Заказ <b>77</b>")
            await expect(new).to_have_count(1)
            await expect(new.locator("select option")).to_have_count(6)  # the pipeline loaded
            await new.locator("select").select_option(label="Предложение")
            await expect(status).to_have_text(
                "Сделка «Заказ <b>77</b>» переведена на этап «Предложение»."
            )
            # and the old deal moves too, with its own version
            await (
                card.locator(".deal", has_text="Order 42")
                .locator("select")
                .select_option(label="Успешно")
            )
            await expect(status).to_contain_text("«Успешно»")
            assert await card.locator("b").count() == 0  # the title went in as text

            # after the call, from the wrap-up card: move it once more
            stack.pbx.hang_up(call.linkedid)
            wrapup = page.locator(".call-card.wrapup")
            await expect(wrapup.locator(".deal", has_text="Заказ <b>77</b>")).to_contain_text(
                "Предложение"
            )
            await wrapup.locator(".deals-open").click()
            deal = wrapup.locator(".deal", has_text="Заказ <b>77</b>")
            await expect(deal.locator("select")).to_have_value(
                str(await stage_id(stack, "Предложение"))
            )
            await deal.locator("select").select_option(label="Переговоры")
            await expect(wrapup.locator(".deal-status")).to_contain_text("«Переговоры»")

            await page.goto(f"{stack.url}/contacts/{contact['id']}")
            await expect(page.locator("body")).to_contain_text("Заказ <b>77</b> — Переговоры")
            await expect(page.locator("body")).to_contain_text("Order 42 — Успешно")
        deals = await crm.deals.list(contact_id=contact["id"])
        made = next(d for d in deals if d["id"] != old["id"])
        assert made["amount"] in ("15000.50", "15000.5") and made["stage"]["name"] == "Переговоры"
        assert made["owner_id"] == anna.id
        assert made["expected_close_on"] == "2027-03-31"  # the sales forecast's month


async def stage_id(stack: Stack, name: str) -> int:
    pipelines = await stack.services.crm.pipelines.list()
    return next(s["id"] for p in pipelines for s in p["stages"] if s["name"] == name)


@pytest.mark.parametrize(("lang", "heading"), [("ru", "Моя работа"), ("en", "My work")])
async def test_my_work_page_smoke(sqlite_url: str, lang: str, heading: str) -> None:
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("anna", "101", language=lang)
        for width, height in ((1366, 768), (390, 844)):
            async with signed_in_page(stack, "anna", viewport=(width, height)) as page:
                await page.click("nav a[href='/my']")
                await page.wait_for_url(stack.url + "/my")
                await expect(page.locator("h1")).to_have_text(heading)
                await expect(page.locator("#overdue")).to_be_visible()
                scroll = await page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, (width, scroll)


async def test_a_report_preset_is_one_click_and_the_definitions_are_on_the_page(
    sqlite_url: str,
) -> None:
    async with panel_stack(sqlite_url) as stack:
        await stack.agent("boss", None, role="supervisor", language="ru")
        yesterday = preset_period(
            "yesterday", local_today(ZoneInfo(stack.services.settings.timezone))
        )
        for width, height in ((1366, 768), (390, 844)):
            async with signed_in_page(stack, "boss", viewport=(width, height)) as page:
                await page.goto(stack.url + "/reports")
                await page.click("a[data-preset=yesterday]")
                await page.wait_for_url(
                    f"{stack.url}/reports?start={yesterday.start}&end={yesterday.end}"
                )
                await expect(page.locator("a[data-preset=yesterday]")).to_have_attribute(
                    "aria-current", "true"
                )
                await expect(page.locator("#start")).to_have_value(str(yesterday.start))
                await page.locator("#figure-definitions summary").click()
                await expect(page.locator("#figure-definitions")).to_contain_text("Занятость")
                await page.click("a[data-preset=today]")
                await expect(page.locator("#sessions-table")).to_contain_text("Boss")  # signed in
                scroll = await page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, (width, scroll)
