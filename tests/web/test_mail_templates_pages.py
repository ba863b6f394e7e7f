"""`/admin/mail-templates` in the browser's forms (no JavaScript): admins add, change,
preview and remove letter templates, a template that does not compile is refused with
its field named in Russian and English, agents are refused; on the contact card the
letter form offers the templates, and a letter sent with one (subject and text left
empty) goes over SMTP (aiosmtpd) rendered for the contact and lands in the timeline."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default as default_policy

from crm.mail.mailboxes import MailboxCreate
from crm.mail.named_templates import MailTemplateCreate
from crm.schemas import ContactCreate
from tests.crm.mail.kit_mail import CUSTOMER, SYSTEM
from tests.crm.mail.kit_smtp import SmtpServer
from tests.web.conftest import Api
from tests.web.test_mail_api import signed_in, trubka
from tests.web.test_triggers import admin, token

FORM = {
    "name": "Price list",
    "subject": "Prices for {{ contact.company }}",
    "body": "Dear {{ contact.name }},\nour prices.",
    "language": "en",
}


async def test_admins_manage_letter_templates_in_forms(database_url: str) -> None:
    async with trubka(database_url) as api:
        async with signed_in(api, "agent") as client:
            assert (await client.get("/admin/mail-templates")).status_code == 403
            refused = await client.post("/admin/mail-templates", data=FORM)
            assert refused.status_code == 403
        async with admin(api, "boss") as client:  # Russian
            page = await client.get("/admin/mail-templates")
            assert page.status_code == 200
            assert 'href="/admin/mail-templates"' in page.text
            assert "Шаблоны писем" in page.text
            expired = await client.post("/admin/mail-templates", data={**FORM, "csrf_token": "x"})
            assert expired.status_code == 403
            csrf = token(page.text)
            bad = await client.post(
                "/admin/mail-templates",
                data={**FORM, "body": "Dear {{ contact.name ", "csrf_token": csrf},
            )
            assert bad.status_code == 422
            assert "Текст: в шаблоне ошибка" in bad.text
            assert "Dear {{ contact.name " in bad.text  # what was typed, shown again
            made = await client.post(
                "/admin/mail-templates",
                data={**FORM, "name": "Price <b>list</b>", "csrf_token": csrf},
            )
            assert made.status_code == 303
            one = await client.get(made.headers["location"])
            assert "Price &lt;b&gt;list&lt;/b&gt;" in one.text and "<b>list</b>" not in one.text
            assert "Dear Ivan Petrov," in one.text  # the preview with the sample contact
            template_id = int(made.headers["location"].split("/")[-1].split("?")[0])
            url = f"/admin/mail-templates/{template_id}"
            saved = await client.post(
                url,
                data={**FORM, "subject": "New prices", "version": "1", "csrf_token": csrf},
            )
            assert saved.status_code == 303
            stored = await api.crm.mail_templates.get(template_id)
            assert (stored["name"], stored["subject"], stored["version"]) == (
                "Price list",
                "New prices",
                2,
            )
            stale = await client.post(url, data={**FORM, "version": "1", "csrf_token": csrf})
            assert stale.status_code == 422 or stale.status_code == 409 or "изменил" in stale.text
            assert "этот шаблон письма изменил кто-то другой" in stale.text
            gone = await client.post(url + "/delete", data={"csrf_token": csrf})
            assert gone.status_code == 303
            assert (await client.get(url)).status_code == 404
        async with admin(api, "chief", language="en") as client:
            page = await client.get("/admin/mail-templates")
            bad = await client.post(
                "/admin/mail-templates",
                data={**FORM, "subject": "{{ contact.nam }}", "csrf_token": token(page.text)},
            )
            assert bad.status_code == 422
            assert "Subject: this template has an error" in bad.text


async def card_setup(api: Api, smtp: SmtpServer) -> tuple[int, int, int]:
    box = await api.crm.mailboxes.create(
        MailboxCreate(
            name="Sales",
            address="sales@trubka.example",
            imap_host="127.0.0.1",
            login=smtp.login,
            password=smtp.password,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_security="none",
        ),
        SYSTEM,
    )
    contact = await api.crm.contacts.create(
        ContactCreate(name="Ivan Petrov", emails=[CUSTOMER]), SYSTEM
    )
    made = await api.crm.mail_templates.create(
        MailTemplateCreate(
            name="Callback follow-up",
            subject="After our call, {{ contact.name }}",
            body="Dear {{ contact.name }}, as promised.\n{{ user.name }}",
        ),
        SYSTEM,
    )
    return box["id"], contact["id"], made["id"]


async def test_the_card_sends_a_letter_from_a_template(database_url: str) -> None:
    smtp = SmtpServer("sales", "app password").start()
    try:
        async with trubka(database_url) as api, signed_in(api, "olga") as client:
            box_id, contact_id, template_id = await card_setup(api, smtp)
            card = await client.get(f"/contacts/{contact_id}")
            assert card.status_code == 200
            assert re.search(
                rf'<option value="{template_id}">Callback follow-up</option>', card.text
            )
            sent = await client.post(
                f"/contacts/{contact_id}/letters",
                data={
                    "csrf_token": token(card.text),
                    "mailbox_id": str(box_id),
                    "to": CUSTOMER,
                    "template_id": str(template_id),
                    "subject": "",
                    "body": "",
                },
            )
            assert sent.status_code == 303, sent.text
            [received] = smtp.received
            message = message_from_bytes(received.data, policy=default_policy)
            assert message["Subject"] == "After our call, Ivan Petrov"
            part = message.get_body(preferencelist=("plain",))
            assert part is not None
            assert (
                part.get_content().replace("\r\n", "\n").strip()
                == "Dear Ivan Petrov, as promised.\nOlga"
            )
            timeline = (await client.get(f"/api/contacts/{contact_id}/timeline")).json()
            [item] = [i for i in timeline["items"] if i["kind"] == "letter"]
            assert item["letter"]["subject"] == "After our call, Ivan Petrov"

            empty = await client.post(
                f"/contacts/{contact_id}/letters",
                data={
                    "csrf_token": token(card.text),
                    "mailbox_id": str(box_id),
                    "to": CUSTOMER,
                    "subject": "No text",
                    "body": "",
                },
            )
            assert empty.status_code == 422
            # a name with template marks: rendered for the form, then sent as shown
            odd = await api.crm.contacts.create(
                ContactCreate(name="Ivan {{ 7*7 }} {% x %}", emails=["odd@customer.example"]),
                SYSTEM,
            )
            shown = await client.post(
                f"/api/mail-templates/{template_id}/render", json={"contact_id": odd["id"]}
            )
            assert shown.status_code == 200, shown.text
            as_shown = await client.post(
                f"/api/contacts/{odd['id']}/letters",
                json={"mailbox_id": box_id, **shown.json()},
            )
            assert as_shown.status_code == 201, as_shown.text
            assert as_shown.json()["subject"] == "After our call, Ivan {{ 7*7 }} {% x %}"
            assert "введите текст письма или выберите шаблон" in empty.text
            assert len(smtp.received) == 2
    finally:
        smtp.stop()
