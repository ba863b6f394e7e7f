"""`/admin/mailboxes`: admins list, add, change (the password write-only: blank keeps
it), check now against a real IMAP server (a private Dovecot) and remove mailboxes;
refusals name the field in Russian and English; values are escaped; agents refused."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from crm.mail.models import Mailbox
from tests.crm.mail.kit_dovecot import Dovecot
from tests.kit_server import free_port
from tests.web.test_mail_api import signed_in, trubka
from tests.web.test_triggers import admin, token


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    server = Dovecot.start(tmp_path_factory.mktemp("dovecot"))
    try:
        yield server
    finally:
        server.stop()


def row_of(html: str, mailbox_id: int) -> str:
    match = re.search(rf'<tr data-mailbox="{mailbox_id}".*?</tr>', html, re.S)
    assert match is not None
    return match.group(0)


async def test_admins_manage_mailboxes_in_the_browser(database_url: str, dovecot: Dovecot) -> None:
    login, password = dovecot.new_user()
    async with trubka(database_url) as api:
        async with signed_in(api, "agent") as client:
            assert (await client.get("/admin/mailboxes")).status_code == 403
            refused = await client.post("/admin/mailboxes", data={"name": "x"})
            assert refused.status_code == 403
        async with signed_in(api, "boss", role="admin") as client:
            page = await client.get("/admin/mailboxes")
            assert page.status_code == 200
            assert 'href="/admin/mailboxes"' in page.text  # in the admin's navigation
            form = {
                "csrf_token": token(page.text),
                "name": "Sales <script>alert(1)</script>",
                "address": "Sales@Trubka.Example",
                "owner_id": "",
                "imap_host": dovecot.host,
                "imap_port": "99999",
                "login": login,
                "password": password,
                "folder": "INBOX",
                "sent_folder": "",
                "smtp_host": "",
                "smtp_port": "465",
                "smtp_security": "ssl",
                "smtp_login": "",
                "enabled": "1",
            }
            bad = await client.post("/admin/mailboxes", data=form)
            assert bad.status_code == 422
            assert "Порт IMAP: порт — целое число от 1 до 65535" in bad.text
            assert "<script>alert(1)</script>" not in bad.text  # the form as typed, escaped
            assert password not in bad.text  # never sent back
            no_address = await client.post("/admin/mailboxes", data={**form, "address": "x"})
            assert "Адрес e-mail: нужен адрес e-mail" in no_address.text
            created = await client.post("/admin/mailboxes", data={**form, "imap_port": "143"})
            assert created.status_code == 303, created.text
            async with api.crm.db.session() as session:
                box = (await session.scalars(select(Mailbox))).one()
                stored = box.password_encrypted
            listed = (await client.get("/admin/mailboxes")).text
            assert "Sales &lt;script&gt;alert(1)&lt;/script&gt;" in listed
            assert "sales@trubka.example" in row_of(listed, box.id)
            assert password not in listed

            # changed with the password left blank: the stored one is kept and works
            edit = await client.get(f"/admin/mailboxes/{box.id}")
            assert 'id="password-kept"' in edit.text and password not in edit.text
            saved = await client.post(
                f"/admin/mailboxes/{box.id}",
                data={**form, "csrf_token": token(edit.text), "imap_port": str(dovecot.port),
                      "name": "Sales", "password": ""},
            )  # fmt: skip
            assert saved.status_code == 303, saved.text
            async with api.crm.db.session() as session:
                again = await session.get(Mailbox, box.id)
                assert again is not None and again.password_encrypted == stored
                assert (again.name, again.imap_port) == ("Sales", dovecot.port)
            csrf = token(edit.text)
            checked = await client.post(
                f"/admin/mailboxes/{box.id}/check", data={"csrf_token": csrf}
            )
            assert checked.status_code == 200
            assert "Подключились: открыта папка INBOX" in checked.text

            # a server that does not answer: the check says so and keeps it as last error
            closed = free_port()
            await client.post(
                f"/admin/mailboxes/{box.id}",
                data={**form, "csrf_token": csrf, "imap_port": str(closed), "name": "Sales"},
            )
            failed = await client.post(
                f"/admin/mailboxes/{box.id}/check", data={"csrf_token": csrf}
            )
            assert "Ящик не читается: IMAP" in failed.text
            assert f"{dovecot.host}:{closed}" in row_of(failed.text, box.id)

            removed = await client.post(
                f"/admin/mailboxes/{box.id}/delete", data={"csrf_token": csrf}
            )
            assert removed.status_code == 303
            assert (await client.get(f"/admin/mailboxes/{box.id}")).status_code == 404
            assert "data-mailbox=" not in (await client.get("/admin/mailboxes")).text
        async with admin(api, "chief", language="en") as client:
            page = await client.get("/admin/mailboxes")
            assert "No mailboxes yet." in page.text and "Check now" not in page.text
            refused = await client.post(
                "/admin/mailboxes", data={**form, "csrf_token": token(page.text), "address": "x"}
            )
            assert "Not saved: E-mail address: an e-mail address is expected" in refused.text
