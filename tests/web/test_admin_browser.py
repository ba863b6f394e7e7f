"""The administration pages in Debian's Chromium, end to end against the simulated PBX:
an admin creates an agent with a phone, adds them to a queue, and the agent signs in and
gets a pop; a penalty changed on the page reaches the PBX as QueuePenalty; disabling the
user closes their socket (their panel goes to the sign-in form). Every admin page is
checked in both languages for untranslated strings and at 1366×768 and 390 px for
horizontal overflow. `TRUBKA_SCREENSHOTS=1` saves docs/screenshots/admin-*.png on the way.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.async_api import Browser, Page, expect

from tests.kit_browser import CHROMIUM, chromium
from tests.web.kit_admin import admin_sim, until
from tests.web.kit_panel import PASSWORD, Stack, panel_stack
from web.i18n import LOCALE_DIR

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
expect.set_options(timeout=10_000)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NEWCOMER = "Local/106@agents/n"
SAVE_SCREENSHOTS = os.environ.get("TRUBKA_SCREENSHOTS") == "1"


@asynccontextmanager
async def signed_in(
    browser: Browser, stack: Stack, login: str, password: str, *, width: int = 1366
) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": width, "height": 768})
    page = await context.new_page()
    await page.goto(stack.url + "/login")
    await page.fill("#login", login)
    await page.fill("#password", password)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_load_state()
    try:
        yield page
    finally:
        await context.close()


def _admin_messages() -> dict[str, str]:
    """English → Russian of the admin pages' own strings (admin.po)."""
    with (LOCALE_DIR / "ru" / "LC_MESSAGES" / "admin.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle, locale="ru") if m.id and m.string}


async def check_page(page: Page, lang: str, width: int) -> None:
    """No horizontal overflow; no string left in the other language."""
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide at {width}px ({lang})"
    text = await page.locator("main").inner_text()
    messages = _admin_messages()
    if lang == "ru":
        left = [en for en in messages if len(en) > 4 and en in text]
    else:
        left = [ru for ru in messages.values() if len(ru) > 4 and ru in text]
    assert left == [], f"{page.url} ({lang}) shows untranslated strings: {left}"


async def test_create_an_agent_who_gets_a_pop_change_a_penalty_then_disable_them(
    sqlite_url: str,
) -> None:
    async with panel_stack(sqlite_url, config=admin_sim()) as stack, chromium() as browser:
        await stack.agent("boss", None, role="admin", language="ru")
        async with signed_in(browser, stack, "boss", PASSWORD) as admin:
            await expect(admin).to_have_url(stack.url + "/admin")
            await expect(admin.locator("#stat-users .value")).to_have_text("1")

            # a new agent with a phone; the password is generated and shown once
            await admin.click(".admin-nav a[href='/admin/users']")
            await admin.click("#new-user")
            form = admin.locator("#user-form")
            await form.locator("input[name=login]").fill("egor")
            await form.locator("input[name=name]").fill("Egor Novikov")
            await form.locator("select[name=role]").select_option("agent")
            await form.locator("select[name=language]").select_option("en")
            await form.locator("input[name=interfaces]").fill(NEWCOMER)
            await form.locator("button[type=submit]").click()
            await expect(admin.locator("#flash")).to_have_text("Пользователь создан.")
            password = (await admin.locator("#new-password .password").inner_text()).strip()
            assert len(password) == 12
            egor = await stack.services.crm.users.get_by_login("egor")
            assert egor is not None and egor.interfaces == (NEWCOMER,)

            # a queue membership with a penalty: QueueAdd reaches the PBX
            await admin.goto(f"{stack.url}/admin/queues?user={egor.id}")
            sales = admin.locator("#queue-sales")
            await expect(sales.locator("select[name=user_id]")).to_have_value(str(egor.id))
            await sales.locator(".add-member input[name=penalty]").fill("1")
            await sales.locator(".add-member button[type=submit]").click()
            await expect(admin.locator("#flash")).to_have_text("Добавлен в очередь.")
            (add,) = stack.pbx.actions("QueueAdd")
            assert (add.get("queue"), add.get("interface"), add.get("penalty")) == (
                "sales",
                NEWCOMER,
                "1",
            )
            row = admin.locator(f"#member-sales-{egor.id}")
            await expect(row).to_contain_text("да")

            # the agent signs in with that password and gets a pop
            async with signed_in(browser, stack, "egor", password) as agent:
                await expect(agent).to_have_url(stack.url + "/")
                await agent.wait_for_selector("body[data-live=open]")
                stack.pbx.place_call("84951110007", "Petr", queue="sales")
                pop = agent.locator(".call-card.ringing")
                await expect(pop.locator(".caller-number")).to_contain_text("8 (495) 111-00-07")

                # a penalty changed on the page: QueuePenalty reaches the PBX
                await admin.goto(f"{stack.url}/admin/queues")
                await admin.fill(f"#penalty-sales-{egor.id}", "4")
                await admin.locator(f"#member-sales-{egor.id} button", has_text="Изменить").click()
                await expect(admin.locator("#flash")).to_have_text("Штраф изменён.")
                (penalty,) = stack.pbx.actions("QueuePenalty")
                assert (penalty.get("queue"), penalty.get("interface")) == ("sales", NEWCOMER)
                assert penalty.get("penalty") == "4"
                assert stack.pbx.engine.member("sales", NEWCOMER).penalty == 4

                # disabled: the agent's socket is closed at once, their panel signs out
                await admin.goto(f"{stack.url}/admin/users/{egor.id}")
                await admin.click("#disable")
                await expect(admin.locator("#flash")).to_have_text(
                    "Пользователь отключён: его сеансы завершены."
                )
                await expect(agent).to_have_url(stack.url + "/login?next=%2F")
            await until(lambda: stack.pbx.engine.member("sales", NEWCOMER) is None)
            log = await stack.services.supervisor.audit.list(kind="admin")
            assert [e["action"] for e in log["entries"]] == [
                "user_disable",
                "member_penalty",
                "member_add",
                "user_create",
            ]


ADMIN_PAGES = [
    ("/admin", "admin-dashboard"),
    ("/admin/users", "admin-users"),
    ("/admin/users/new", "admin-user-new"),
    ("/admin/users/{egor}", "admin-user"),
    ("/admin/queues", "admin-queues"),
    ("/admin/audit", "admin-audit"),
]


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_every_admin_page_in_both_languages_fits_the_screen(
    sqlite_url: str, lang: str
) -> None:
    async with panel_stack(sqlite_url, config=admin_sim()) as stack, chromium() as browser:
        await stack.agent("boss", None, role="admin", language=lang)
        await stack.agent("anna", "101", language=lang)
        egor = await stack.agent("egor", "106", language=lang)
        people = stack.services.supervisor.people
        queue_admin = stack.services.supervisor.queue_admin
        from supervisor.audit import Actor

        actor = Actor(user_id=None, login="boss", name="Boss", role="admin")
        await queue_admin.add(actor, "support", egor.id, 2)
        await people.update(actor, egor.id, egor.version, {"name": "Egor Novikov"})
        await stack.services.supervisor.queue_admin.reapply()
        await stack.agent("olga", None, role="supervisor", language=lang)
        for width in (1366, 390):
            async with signed_in(browser, stack, "boss", PASSWORD, width=width) as page:
                for path, name in ADMIN_PAGES:
                    await page.goto(stack.url + path.replace("{egor}", str(egor.id)))
                    await expect(page.locator("html")).to_have_attribute("lang", lang)
                    await check_page(page, lang, width)
                    if not SAVE_SCREENSHOTS:
                        continue
                    if lang == "ru" and width == 1366:
                        await page.screenshot(path=SCREENSHOTS / f"{name}-ru.png", full_page=True)
                    if lang == "en" and width == 1366 and name == "admin-users":
                        await page.screenshot(path=SCREENSHOTS / f"{name}-en.png", full_page=True)
                    if lang == "ru" and width == 390 and name in ("admin-users", "admin-queues"):
                        await page.screenshot(
                            path=SCREENSHOTS / f"{name}-phone-ru.png", full_page=True
                        )
            # a supervisor reads the queues page: no forms to change anything
            async with signed_in(browser, stack, "olga", PASSWORD, width=width) as page:
                await page.goto(stack.url + "/admin/queues")
                await expect(page.locator("#queue-support")).to_be_visible()
                await expect(page.locator("form.add-member")).to_have_count(0)
                await expect(page.locator("input[name=penalty]")).to_have_count(0)
                await check_page(page, lang, width)
