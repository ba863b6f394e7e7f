"""E-mail over the API against real servers: mailboxes (the password never comes back),
a letter sent from the card over SMTP (aiosmtpd) into the timeline and the Sent folder
(a private Dovecot), refusals, and attachments downloaded by signed-in users only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm.mail.models import Letter, Mailbox
from crm.schemas import ContactCreate
from tests.crm.mail.kit_dovecot import Dovecot
from tests.crm.mail.kit_mail import CUSTOMER, SYSTEM, letter
from tests.crm.mail.kit_smtp import SmtpServer
from tests.kit_server import InProcess, free_port
from tests.web.conftest import PASSWORD, Api
from trubka.app import build_app
from trubka.settings import load_settings


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    server = Dovecot.start(tmp_path_factory.mktemp("dovecot"))
    try:
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def trubka(database_url: str) -> AsyncIterator[Api]:
    settings = load_settings(
        database_url=database_url, secret_key="e-mail API tests", mail_poll_interval=3600
    )
    app = build_app(settings)
    async with InProcess(app) as server:
        yield Api(server, app.state.services)


@asynccontextmanager
async def signed_in(api: Api, login: str, role: str = "agent") -> AsyncIterator[httpx.AsyncClient]:
    await api.user(login, role)
    async with api.client() as client:
        response = await client.post("/api/session", json={"login": login, "password": PASSWORD})
        assert response.status_code == 200, response.text
        yield client


def mailbox_body(dovecot: Dovecot, login: str, password: str, smtp_port: int) -> dict[str, Any]:
    return {
        "name": "Sales",
        "address": "Sales@Trubka.Example",
        "imap_host": dovecot.host,
        "imap_port": dovecot.port,
        "imap_ssl": False,
        "login": login,
        "password": password,
        "sent_folder": "Sent",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_security": "none",
    }


async def test_a_letter_sent_from_the_card_arrives_and_is_in_the_timeline_once(
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
            box = made.json()
            assert "password" not in box and box["has_password"] is True
            assert box["address"] == "sales@trubka.example"
            listed = (await admin.get("/api/mailboxes")).json()["items"]
            assert password not in str(listed) and password not in str(box)
            async with api.services.db.session() as session:
                stored = await session.get(Mailbox, box["id"])
                assert stored is not None and password not in stored.password_encrypted
            assert (await agent.get("/api/mailboxes")).status_code == 403
            refused = await agent.post("/api/mailboxes", json=mailbox_body(dovecot, login, "x", 1))
            assert refused.status_code == 403

            contact = await api.crm.contacts.create(
                ContactCreate(name="Ivan Petrov", emails=[CUSTOMER]), SYSTEM
            )
            sent = await agent.post(
                f"/api/contacts/{contact['id']}/letters",
                json={
                    "mailbox_id": box["id"],
                    "subject": "An offer for {{ contact.name }}",
                    "body": (
                        "Dear {{ contact.name }},\n\n<b>our prices</b> are low.\n{{ user.name }}"
                    ),
                },
            )
            assert sent.status_code == 201, sent.text
            view = sent.json()
            assert view["direction"] == "out" and view["subject"] == "An offer for Ivan Petrov"

            [received] = smtp.received
            assert received.rcpt_tos == [CUSTOMER] and received.login == login
            message = message_from_bytes(received.data, policy=default_policy)
            assert message["Subject"] == "An offer for Ivan Petrov"
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            text = body.get_content().replace("\r\n", "\n")
            assert text == "Dear Ivan Petrov,\n\n<b>our prices</b> are low.\nOlga\n"

            [copy] = dovecot.letters(login, password, "Sent")
            assert message_from_bytes(copy)["Message-ID"] == view["message_id"]

            timeline = (await agent.get(f"/api/contacts/{contact['id']}/timeline")).json()
            [item] = [i for i in timeline["items"] if i["kind"] == "letter"]
            assert item["letter"]["id"] == view["id"]
            assert item["letter"]["from"]["address"] == "sales@trubka.example"

            poller = api.services.mail_poller
            assert poller is not None
            await poller.poll_all()  # reads the Sent copy: the same Message-ID, not again
            async with api.services.db.session() as session:
                assert len((await session.scalars(select(Letter))).all()) == 1
            letters = (await agent.get(f"/api/contacts/{contact['id']}/letters")).json()
            assert [t["subject"] for t in letters["threads"]] == ["An offer for Ivan Petrov"]
    finally:
        smtp.stop()


async def test_a_letter_that_cannot_go_is_refused_and_not_kept(
    database_url: str, dovecot: Dovecot
) -> None:
    login, password = dovecot.new_user()
    async with (
        trubka(database_url) as api,
        signed_in(api, "boss", "admin") as admin,
        signed_in(api, "olga") as agent,
    ):
        box = (
            await admin.post(
                "/api/mailboxes", json=mailbox_body(dovecot, login, password, free_port())
            )
        ).json()
        other = await api.user("petr")
        own = {**mailbox_body(dovecot, login, password, 1), "owner_id": other.id, "name": "Petr"}
        petr_box = (await admin.post("/api/mailboxes", json=own)).json()
        contact = await api.crm.contacts.create(
            ContactCreate(name="Ivan", emails=[CUSTOMER]), SYSTEM
        )
        nobody = await api.crm.contacts.create(ContactCreate(name="No mail"), SYSTEM)
        url = f"/api/contacts/{contact['id']}/letters"

        broken = await agent.post(url, json={"mailbox_id": box["id"], "body": "{{ contact.name"})
        assert broken.status_code == 422 and broken.json()["field"] == "body"
        unsafe = await agent.post(
            url, json={"mailbox_id": box["id"], "body": "{{ ''.__class__.__mro__ }}"}
        )
        assert unsafe.status_code == 422 and unsafe.json()["field"] == "body"
        down = await agent.post(
            url, json={"mailbox_id": box["id"], "body": "Hi"}, headers={"Accept-Language": "ru"}
        )
        assert down.status_code == 502 and down.json()["code"] == "mail_failed"
        assert down.json()["message"] == "почтовый сервер не принял письмо"
        not_hers = await agent.post(url, json={"mailbox_id": petr_box["id"], "body": "Hi"})
        assert not_hers.status_code == 403 and not_hers.json()["field"] == "mailbox_id"
        elsewhere = await agent.post(
            url, json={"mailbox_id": box["id"], "body": "Hi", "to": "someone@else.example"}
        )
        assert elsewhere.status_code == 422 and elsewhere.json()["field"] == "to"
        no_address = await agent.post(
            f"/api/contacts/{nobody['id']}/letters", json={"mailbox_id": box["id"], "body": "Hi"}
        )
        assert no_address.status_code == 422 and no_address.json()["field"] == "to"
        async with api.services.db.session() as session:
            assert (await session.scalars(select(Letter))).all() == []


async def test_attachments_download_for_signed_in_users_only(
    database_url: str, dovecot: Dovecot
) -> None:
    login, password = dovecot.new_user()
    async with (
        trubka(database_url) as api,
        signed_in(api, "boss", "admin") as admin,
        signed_in(api, "olga") as agent,
    ):
        await admin.post("/api/mailboxes", json=mailbox_body(dovecot, login, password, 1))
        contact = await api.crm.contacts.create(
            ContactCreate(name="Ivan", emails=[CUSTOMER]), SYSTEM
        )
        raw, _ = letter(
            to="sales@trubka.example",
            attachments=[('"><script>alert(1)</script>.html', b"<script>alert(1)</script>")],
        )
        dovecot.deliver(login, password, raw)
        poller = api.services.mail_poller
        assert poller is not None
        await poller.poll_all()
        [listed] = (await agent.get(f"/api/contacts/{contact['id']}/letters")).json()["items"]
        [attachment] = listed["attachments"]

        got = await agent.get(attachment["url"])
        assert got.status_code == 200 and got.content == b"<script>alert(1)</script>"
        assert got.headers["content-type"] == "application/octet-stream"
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["x-content-type-options"] == "nosniff"
        missing = await agent.get(f"/api/letters/{listed['id']}/attachments/2")
        assert missing.status_code == 404
        async with api.client() as stranger:
            assert (await stranger.get(attachment["url"])).status_code == 401


async def test_the_running_poller_wakes_when_a_mailbox_is_added(
    database_url: str, dovecot: Dovecot
) -> None:
    login, password = dovecot.new_user()
    dovecot.deliver(login, password, letter(to="sales@trubka.example", subject="Waiting")[0])
    async with trubka(database_url) as api, signed_in(api, "boss", "admin") as admin:
        contact = await api.crm.contacts.create(
            ContactCreate(name="Ivan", emails=[CUSTOMER]), SYSTEM
        )
        made = await admin.post("/api/mailboxes", json=mailbox_body(dovecot, login, password, 1))
        assert made.status_code == 201
        deadline = asyncio.get_running_loop().time() + 15
        while True:  # the poll interval is an hour: only the wake-up can bring it
            letters = await api.crm.letters.for_contact(contact["id"])
            box = (await admin.get(f"/api/mailboxes/{made.json()['id']}")).json()
            if letters["items"] and box["polled_at"] is not None:
                break
            assert asyncio.get_running_loop().time() < deadline, "the poller did not wake"
            await asyncio.sleep(0.02)
        assert letters["items"][0]["subject"] == "Waiting"
        assert box["last_error"] is None


async def test_no_poller_when_mail_is_off(database_url: str) -> None:
    app = build_app(load_settings(database_url=database_url, mail_enabled=False))
    async with InProcess(app):
        assert app.state.services.mail_poller is None


async def test_a_reply_from_the_card_joins_the_thread_and_a_mailbox_edit_keeps_the_password(
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
            box = (
                await admin.post(
                    "/api/mailboxes", json=mailbox_body(dovecot, login, password, smtp.port)
                )
            ).json()
            renamed = await admin.patch(f"/api/mailboxes/{box['id']}", json={"name": "Desk"})
            assert renamed.json()["name"] == "Desk" and renamed.json()["has_password"]
            fixed = await admin.patch(f"/api/mailboxes/{box['id']}", json={"password": password})
            assert fixed.status_code == 200 and "password" not in fixed.json()
            contact = await api.crm.contacts.create(
                ContactCreate(name="Ivan", emails=[CUSTOMER]), SYSTEM
            )
            raw, asked_id = letter(to="sales@trubka.example", subject="Delivery?")
            dovecot.deliver(login, password, raw)
            assert api.services.mail_poller is not None
            await api.services.mail_poller.poll_all()
            [asked] = (await agent.get(f"/api/contacts/{contact['id']}/letters")).json()["items"]

            answer = await agent.post(
                f"/api/contacts/{contact['id']}/letters",
                json={"mailbox_id": box["id"], "body": "Tomorrow.", "reply_to": asked["id"]},
            )
            assert answer.status_code == 201, answer.text
            [received] = smtp.received
            message = message_from_bytes(received.data, policy=default_policy)
            assert message["In-Reply-To"] == asked_id and message["Subject"] == "Re: Delivery?"
            assert answer.json()["thread_key"] == asked["thread_key"] == asked_id
            listed = (await agent.get(f"/api/contacts/{contact['id']}/letters")).json()
            [thread] = listed["threads"]
            assert [m["subject"] for m in thread["letters"]] == ["Delivery?", "Re: Delivery?"]
            gone = await admin.delete(f"/api/mailboxes/{box['id']}")
            assert gone.status_code == 204
            assert (await admin.get(f"/api/mailboxes/{box['id']}")).status_code == 404
            kept = (await agent.get(f"/api/contacts/{contact['id']}/letters")).json()["items"]
            assert len(kept) == 2  # the letters stay in the history
    finally:
        smtp.stop()
