"""The contact card's letters: a hostile letter is shown as escaped text (its HTML never
rendered), and the card's form sends a letter over a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from crm.schemas import ContactCreate
from tests.crm.mail.kit_dovecot import Dovecot
from tests.crm.mail.kit_mail import CUSTOMER, SYSTEM, letter
from tests.crm.mail.kit_smtp import SmtpServer
from tests.web.test_mail_api import mailbox_body, signed_in, trubka

HOSTILE_SUBJECT = '<img src=x onerror="alert(1)">Offer'
HOSTILE_HTML = (
    "<html><body><script>alert('x')</script><p>Dear <b>friend</b>,</p>"
    '<a href="javascript:alert(3)">click</a><iframe src="https://evil.example"></iframe></body></html>'
)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    server = Dovecot.start(tmp_path_factory.mktemp("dovecot"))
    try:
        yield server
    finally:
        server.stop()


async def test_the_card_shows_letters_as_text_and_its_form_sends_one(
    database_url: str, dovecot: Dovecot
) -> None:
    login, password = dovecot.new_user()
    smtp = SmtpServer(login, password).start()
    try:
        async with (
            trubka(database_url) as api,
            signed_in(api, "boss", "admin") as admin,
            signed_in(api, "olga") as agent,
        ):
            made = await admin.post(
                "/api/mailboxes", json=mailbox_body(dovecot, login, password, smtp.port)
            )
            assert made.status_code == 201, made.text
            contact = await api.crm.contacts.create(
                ContactCreate(name="Ivan Petrov", emails=[CUSTOMER]), SYSTEM
            )
            raw, _ = letter(
                to="sales@trubka.example", subject=HOSTILE_SUBJECT, text=None, html=HOSTILE_HTML,
                attachments=[("<b>list</b>.pdf", b"%PDF")],
            )  # fmt: skip
            dovecot.deliver(login, password, raw)
            poller = api.services.mail_poller
            assert poller is not None
            await poller.poll_all()

            page = await agent.get(f"/contacts/{contact['id']}", headers={"Accept-Language": "ru"})
            assert page.status_code == 200
            html = page.text
            assert "Входящее письмо" in html and "Написать письмо" in html
            assert "&lt;img src=x onerror=" in html and "<img src=x" not in html
            assert "<script>alert('x')" not in html and "<iframe" not in html
            assert "javascript:alert" not in html
            assert "Dear friend," in html
            assert "&lt;b&gt;list&lt;_b&gt;.pdf" in html  # escaped, and no path separator

            token = re.search(r'name="csrf_token" value="([^"]+)"', html)
            assert token is not None
            mailbox = re.search(r'<option value="(\d+)"', html)
            assert mailbox is not None
            sent = await agent.post(
                f"/contacts/{contact['id']}/letters",
                data={
                    "csrf_token": token.group(1),
                    "mailbox_id": mailbox.group(1),
                    "to": CUSTOMER,
                    "subject": "Re: Offer",
                    "body": "Hello {{ contact.name }}",
                },
            )
            assert sent.status_code == 303, sent.text
            assert sent.headers["location"] == f"/contacts/{contact['id']}?saved=letter"
            [received] = smtp.received
            assert b"Hello Ivan Petrov" in received.data
            after = await agent.get(sent.headers["location"])
            assert "Письмо отправлено." in after.text and after.text.count("Re: Offer") == 1

            broken = await agent.post(
                f"/contacts/{contact['id']}/letters",
                data={
                    "csrf_token": token.group(1),
                    "mailbox_id": mailbox.group(1),
                    "to": CUSTOMER,
                    "subject": "S",
                    "body": "{{ contact.name",
                },
            )
            assert broken.status_code == 422
            assert "Письмо не отправлено: в шаблоне ошибка" in broken.text
            assert "{{ contact.name</textarea>" in broken.text
            assert len(smtp.received) == 1
    finally:
        smtp.stop()
