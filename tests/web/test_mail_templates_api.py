"""Named letter templates over the API: admins add, change (versioned) and remove them,
agents read them; a template that does not compile in the sandbox is refused with its
field named, in the user's language; the card's render fills a contact in."""

from __future__ import annotations

from crm.mail.mailboxes import MailboxCreate
from crm.mail.named_templates import MailTemplateCreate
from crm.schemas import ContactCreate
from tests.crm.mail.kit_mail import CUSTOMER, SYSTEM
from tests.web.conftest import Api
from tests.web.test_mail_api import signed_in, trubka

CALLBACK = {
    "name": "Callback follow-up",
    "subject": "After our call, {{ contact.name }}",
    "body": "Dear {{ contact.name }} of {{ contact.company }},\nthanks.\n{{ user.name }}",
    "language": "en",
}


async def test_admins_manage_templates_and_agents_read_them(api: Api) -> None:
    async with api.signed_in("boss", "admin") as (admin, boss), api.signed_in("olga") as (agent, _):
        made = await admin.post("/api/mail-templates", json=CALLBACK)
        assert made.status_code == 201, made.text
        view = made.json()
        assert view["name"] == "Callback follow-up" and view["version"] == 1
        assert view["created_by_id"] == boss.id == view["updated_by_id"]

        assert (await agent.post("/api/mail-templates", json=CALLBACK)).status_code == 403
        listed = (await agent.get("/api/mail-templates")).json()["items"]
        assert [t["name"] for t in listed] == ["Callback follow-up"]

        again = await admin.post("/api/mail-templates", json=CALLBACK)
        assert again.status_code == 422 and again.json()["field"] == "name"

        url = f"/api/mail-templates/{view['id']}"
        changed = await admin.put(url, json={**CALLBACK, "subject": "Hi", "version": 1})
        assert changed.status_code == 200, changed.text
        assert changed.json()["version"] == 2 and changed.json()["subject"] == "Hi"
        stale = await admin.put(url, json={**CALLBACK, "version": 1})
        assert stale.status_code == 409
        assert (await agent.put(url, json={**CALLBACK, "version": 2})).status_code == 403
        assert (await agent.get(url)).json()["subject"] == "Hi"

        assert (await agent.delete(url)).status_code == 403
        assert (await admin.delete(url)).status_code == 204
        assert (await admin.get(url)).status_code == 404
        assert (await admin.get("/api/mail-templates")).json()["items"] == []


async def test_a_template_that_does_not_compile_is_refused_naming_the_field(api: Api) -> None:
    async with api.signed_in("boss", "admin") as (admin, _):
        broken = await admin.post(
            "/api/mail-templates",
            json={**CALLBACK, "body": "Dear {{ contact.name "},
            headers={"Accept-Language": "en"},
        )
        assert broken.status_code == 422 and broken.json()["field"] == "body"
        assert broken.json()["message"] == "this template has an error"
        typo = await admin.post(
            "/api/mail-templates",
            json={**CALLBACK, "subject": "{{ contact.nam }}"},
            headers={"Accept-Language": "ru"},
        )
        assert typo.status_code == 422 and typo.json()["field"] == "subject"
        assert typo.json()["message"] == "в шаблоне ошибка"
        unsafe = await admin.post(
            "/api/mail-templates", json={**CALLBACK, "body": "{{ ''.__class__.__mro__ }}"}
        )
        assert unsafe.status_code == 422 and unsafe.json()["field"] == "body"
        missing = await admin.get("/api/mail-templates/999", headers={"Accept-Language": "ru"})
        assert missing.status_code == 404
        assert (await admin.get("/api/mail-templates")).json()["items"] == []


async def test_a_template_rendered_for_a_contact(api: Api) -> None:
    async with api.signed_in("boss", "admin") as (admin, _), api.signed_in("olga") as (agent, _):
        made = (await admin.post("/api/mail-templates", json=CALLBACK)).json()
        contact = await api.crm.contacts.create(
            ContactCreate(name="Ivan <Petrov>", emails=[CUSTOMER]), SYSTEM
        )
        rendered = await agent.post(
            f"/api/mail-templates/{made['id']}/render", json={"contact_id": contact["id"]}
        )
        assert rendered.status_code == 200, rendered.text
        assert rendered.json() == {
            "subject": "After our call, Ivan <Petrov>",
            "body": "Dear Ivan <Petrov> of ,\nthanks.\nOlga",
        }
        gone = await agent.post(
            "/api/mail-templates/999/render", json={"contact_id": contact["id"]}
        )
        assert gone.status_code == 404


async def test_the_openapi_shows_the_template_answers(api: Api) -> None:
    async with api.client() as client:
        schema = (await client.get("/api/openapi.json")).json()
    path = schema["paths"]["/api/mail-templates/{template_id}"]
    assert set(path) == {"get", "put", "delete"}
    answer = path["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["$ref"].endswith("/MailTemplateView")


async def test_the_rule_editor_offers_templates_and_refuses_a_missing_one(
    database_url: str,
) -> None:
    async with trubka(database_url) as api, signed_in(api, "boss", "admin") as admin:
        made = (await admin.post("/api/mail-templates", json=CALLBACK)).json()
        page = await admin.get("/admin/triggers")
        assert page.status_code == 200
        assert f'"mail_templates": [[{made["id"]}, "Callback follow-up"]]' in page.text
        box = await api.crm.mailboxes.create(
            MailboxCreate(
                name="Sales", address="sales@example.com", imap_host="h", login="l", password="p"
            ),
            SYSTEM,
        )
        rule = {
            "name": "Missed you",
            "event": "call.missed",
            "actions": [
                {"type": "send_email", "mailbox_id": box["id"], "template_id": made["id"] + 1}
            ],
        }
        refused = await admin.post("/api/rules", json=rule, headers={"Accept-Language": "ru"})
        assert refused.status_code == 422
        assert refused.json()["field"] == "actions.0.template_id"
        assert "такого шаблона письма нет" in refused.json()["message"]
        rule["actions"][0]["template_id"] = made["id"]
        saved = await admin.post("/api/rules", json=rule)
        assert saved.status_code == 201, saved.text


async def test_a_render_from_another_users_mailbox_is_refused(database_url: str) -> None:
    """As sending from it is refused: the private mailbox's name and address stay hidden."""
    async with trubka(database_url) as api:
        boss = await api.user("boss", "admin")
        private = await api.crm.mailboxes.create(
            MailboxCreate(
                name="Boss",
                address="boss@example.com",
                imap_host="h",
                login="l",
                password="p",
                owner_id=boss.id,
            ),
            SYSTEM,
        )
        contact = await api.crm.contacts.create(
            ContactCreate(name="Ivan", emails=[CUSTOMER]), SYSTEM
        )
        async with signed_in(api, "olga") as agent:
            made = await api.crm.mail_templates.create(
                MailTemplateCreate(name="From", subject="Hi", body="{{ mailbox.address }}"),
                SYSTEM,
            )
            render = f"/api/mail-templates/{made['id']}/render"
            ask = {"contact_id": contact["id"], "mailbox_id": private["id"]}
            refused = await agent.post(render, json=ask)
            assert refused.status_code == 403 and refused.json()["field"] == "mailbox_id"
            assert "boss@example.com" not in refused.text
            shared = await agent.post(render, json={"contact_id": contact["id"]})
            assert shared.status_code == 200
