"""The point-and-click rule editor of `/admin/triggers` in Chromium: a rule made entirely
through it is stored as built; editing the JSON by hand draws the rows again (invalid
JSON: a message, the text left alone); no script errors; Russian words in Russian; the
page fits 1366 and 390 px."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page

from tests.kit_browser import CHROMIUM, chromium
from tests.kit_server import LiveServer
from tests.web.kit_admin_rules import WIDTHS, fits, http, open_as, user_cookie
from tests.web.test_route_api import app_for

pytestmark = pytest.mark.browser

HAVE_CHROMIUM = os.path.exists(CHROMIUM)
SECRET = "a-secret-of-some-length"
HOSTILE = "<img src=x onerror=alert(1)>Ann"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    async with chromium() as launched:
        yield launched


def watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


async def rows(page: Page, kind: str) -> int:
    return await page.locator(
        f"#trigger-add [data-rb='{kind}'], #trigger-edit [data-rb='{kind}']"
    ).count()


async def test_a_rule_is_made_through_the_editor(browser: Browser, database_url: str) -> None:
    app = app_for(database_url)
    async with LiveServer(app) as server:
        cookie = await user_cookie(server, "admin")
        async with http(server, cookie) as client:
            hook = (
                await client.post(
                    "/api/webhooks",
                    json={
                        "url": "http://crm.example/in",
                        "events": ["call.missed"],
                        "secret": SECRET,
                    },
                )
            ).json()
        await app.state.services.crm.users.create(
            login="ann", name=HOSTILE, role="agent", password="correct horse", language="en"
        )
        page = await open_as(browser, server, "/admin/triggers", cookie)
        errors = watch_errors(page)
        await page.reload()
        form = page.locator("#trigger-add")
        await form.locator("input[name=name]").fill("VIP missed")
        await form.locator("select[name=event]").select_option("call.missed")
        # the example rule's condition and action go; the editor makes the new ones
        while await rows(page, "condition"):
            await form.locator("[data-rb='condition'] [data-rb='remove']").first.click()
        while await rows(page, "action"):
            await form.locator("[data-rb='action'] [data-rb='remove']").first.click()
        await form.locator("[data-rb='add-condition']").click()
        condition = form.locator("[data-rb='condition']").first
        await condition.locator("select[data-rb='field']").select_option("contact_tags")
        await condition.locator("select[data-rb='op']").select_option("has")
        await condition.locator("input[data-rb='value']").fill("VIP")
        await form.locator("select[data-rb='new-action-kind']").select_option("webhook")
        await form.locator("[data-rb='add-action']").click()
        await form.locator("select[data-rb='new-action-kind']").select_option("create_task")
        await form.locator("[data-rb='add-action']").click()
        task = form.locator("[data-rb='action'][data-kind='create_task']")
        await task.locator("input[data-rb='title']").fill("Call back {{ contact_name }}")
        await task.locator("input[data-rb='due_hours']").fill("1")
        assert await task.locator("input[data-who='owner']").is_checked()
        assert await task.locator("input[data-rb='working_hours']").is_checked()
        # a user's name is shown as text, never as markup
        await task.locator("input[data-who='user']").check()
        users = task.locator("select[data-rb='user_id'] option")
        assert HOSTILE in await users.all_inner_texts()
        assert await form.locator("[data-rule-builder] img").count() == 0
        await task.locator("input[data-who='user']").uncheck()
        await task.locator("[data-rb='up']").click()  # the task first, then the webhook
        hook_row = form.locator("[data-rb='action'][data-kind='webhook']")
        await hook_row.locator("select[data-rb='webhook_id']").select_option(str(hook["id"]))
        written = json.loads(await form.locator("textarea[name=actions]").input_value())
        assert [a["type"] for a in written] == ["create_task", "webhook"]
        for width, height in WIDTHS:
            await page.set_viewport_size({"width": width, "height": height})
            await fits(page, width)
        await form.locator("button[type=submit]").click()
        await page.wait_for_url("**/admin/triggers/*?done=1")
        rule_id = int(page.url.split("/admin/triggers/")[1].split("?")[0])
        async with http(server, cookie) as client:
            stored = (await client.get(f"/api/rules/{rule_id}")).json()
        assert stored["event"] == "call.missed"
        assert stored["conditions"] == [{"field": "contact_tags", "op": "has", "value": "VIP"}]
        task_spec = {
            key: stored["actions"][0].get(key)
            for key in ("type", "title", "assignee", "due_hours", "working_hours")
        }
        assert task_spec == {
            "type": "create_task",
            "title": "Call back {{ contact_name }}",
            "assignee": ["owner"],
            "due_hours": 1,
            "working_hours": True,
        }
        assert stored["actions"][1] == {"type": "webhook", "webhook_id": hook["id"]}
        assert len(stored["actions"]) == 2

        # the rule's page: the editor shows the stored rule; the JSON edited by hand is drawn
        edit = page.locator("#trigger-edit")
        assert await rows(page, "condition") == 1
        assert await rows(page, "action") == 2
        area = edit.locator("textarea[name=conditions]")
        await area.fill(
            json.dumps(
                [
                    {"field": "queue", "op": "eq", "value": "sales"},
                    {"field": "talk_seconds", "op": "lt", "value": 5},
                ]
            )
        )
        await area.blur()
        assert await rows(page, "condition") == 2
        second = edit.locator("[data-rb='condition']").nth(1)
        assert await second.locator("select[data-rb='field']").input_value() == "talk_seconds"
        assert await second.locator("input[data-rb='value']").input_value() == "5"
        await area.fill('[{"field": "queue",')
        await area.blur()
        assert await edit.locator("[data-rb='conditions'] [role=alert]").is_visible()
        assert await area.input_value() == '[{"field": "queue",'
        assert errors == []
        await page.context.close()


async def test_the_editor_speaks_russian(browser: Browser, database_url: str) -> None:
    async with LiveServer(app_for(database_url)) as server:
        cookie = await user_cookie(server, "admin", language="ru")
        for width, height in WIDTHS:
            page = await open_as(
                browser, server, "/admin/triggers", cookie, width=width, height=height
            )
            errors = watch_errors(page)
            await page.reload()
            editor = page.locator("#trigger-add [data-rule-builder]")
            await editor.locator("[data-rb='add-condition']").wait_for()
            text = await editor.inner_text()
            for word in (
                "Условия",
                "Действия",
                "Добавить условие",
                "Добавить действие",
                "Срок, часов",
            ):
                assert word in text
            for word in ("Add a condition", "Add an action", "Due in hours", "Remove"):
                assert word not in text
            await fits(page, width)
            assert errors == []
            await page.context.close()
