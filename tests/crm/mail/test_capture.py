"""Letters read from a real IMAP server (a private Dovecot) into the contacts' timelines:
threads, restarts and a new UIDVALIDITY without duplicates, malformed letters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
from sqlalchemy import select

from crm.mail.models import Letter, Mailbox, MailFolderState
from crm.models import Contact
from tests.crm.mail.kit_dovecot import Dovecot
from tests.crm.mail.kit_mail import CUSTOMER, OUR_ADDRESS, letter, mail_desk


async def test_letters_from_and_to_a_contact_land_in_its_timeline_in_threads(
    database_url: str, dovecot: Dovecot
) -> None:
    async with mail_desk(database_url, dovecot, sent_folder="Sent") as desk:
        first, first_id = letter(
            subject="Price list", text="Send me the prices, please.", minutes_ago=30,
            attachments=[("prices.pdf", b"%PDF-1.4 tiny")],
        )  # fmt: skip
        reply, reply_id = letter(
            sender=OUR_ADDRESS, to=CUSTOMER, subject="Re: Price list", text="Here they are.",
            in_reply_to=first_id, references=[first_id], minutes_ago=20,
        )  # fmt: skip
        again, again_id = letter(
            subject="Re: Price list", text="Thanks!", in_reply_to=reply_id,
            references=[first_id, reply_id], minutes_ago=10,
        )  # fmt: skip
        other, other_id = letter(subject="Another question", text="Do you deliver?", minutes_ago=5)
        stranger, _ = letter(sender="nobody@elsewhere.example", subject="Spam")
        for raw in (first, again, other, stranger):
            desk.deliver(raw)
        desk.deliver(reply, "Sent")

        await desk.poller().poll_all()

        letters = await desk.letters()
        assert [m["subject"] for m in letters] == [
            "Another question", "Re: Price list", "Re: Price list", "Price list",
        ]  # fmt: skip
        by_id = {m["message_id"]: m for m in letters}
        assert by_id[first_id]["direction"] == "in"
        assert by_id[first_id]["from"] == {"address": CUSTOMER, "name": "Ivan Petrov"}
        assert by_id[first_id]["text"].strip() == "Send me the prices, please."
        assert by_id[reply_id]["direction"] == "out"
        assert by_id[reply_id]["to"] == [CUSTOMER]
        thread = {by_id[m]["thread_key"] for m in (first_id, reply_id, again_id)}
        assert thread == {first_id}
        assert by_id[other_id]["thread_key"] == other_id
        [attachment] = by_id[first_id]["attachments"]
        assert attachment["filename"] == "prices.pdf" and attachment["available"] is True
        assert await desk.crm.letters.attachment(by_id[first_id]["id"], 1) == (
            "prices.pdf", "application/octet-stream", b"%PDF-1.4 tiny",
        )  # fmt: skip

        listed = await desk.crm.letters.for_contact(desk.contact_id)
        threads = [[m["message_id"] for m in t["letters"]] for t in listed["threads"]]
        assert threads == [[other_id], [first_id, reply_id, again_id]]


async def test_a_restart_reads_no_letter_twice(database_url: str, dovecot: Dovecot) -> None:
    async with mail_desk(database_url, dovecot) as desk:
        for n in range(3):
            desk.deliver(letter(subject=f"Letter {n}")[0])
        await desk.poller().poll_all()
        assert len(await desk.letters()) == 3

        await desk.poller().poll_all()  # a restart: a new poller over the same database
        assert len(await desk.letters()) == 3

        same, _ = letter(subject="Letter 1", message_id=(await desk.letters())[1]["message_id"])
        desk.deliver(same)  # the same letter again (new UID, same Message-ID)
        desk.deliver(letter(subject="Letter 3")[0])
        await desk.poller().poll_all()
        assert sorted(m["subject"] for m in await desk.letters()) == [
            "Letter 0", "Letter 1", "Letter 2", "Letter 3",
        ]  # fmt: skip
        async with desk.db.session() as session:
            state = (await session.scalars(select(MailFolderState))).one()
        assert state.last_uid == 5


async def test_a_new_uidvalidity_reads_the_folder_again_without_duplicates(
    database_url: str, dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    async with mail_desk(database_url, dovecot, folder="Leads") as desk:
        dovecot.create(desk.login, desk.password, "Leads")
        old = [letter(subject=f"Lead {n}")[0] for n in range(2)]
        for raw in old:
            desk.deliver(raw, "Leads")
        await desk.poller().poll_all()
        before = dovecot.uidvalidity(desk.login, desk.password, "Leads")

        dovecot.recreate(desk.login, desk.password, "Leads")  # UIDs start again at 1
        after = dovecot.uidvalidity(desk.login, desk.password, "Leads")
        assert after != before
        for raw in [*old, letter(subject="Lead 2")[0]]:
            desk.deliver(raw, "Leads")
        with caplog.at_level(logging.WARNING, logger="crm.mail.poller"):
            await desk.poller().poll_all()

        assert sorted(m["subject"] for m in await desk.letters()) == ["Lead 0", "Lead 1", "Lead 2"]
        async with desk.db.session() as session:
            state = (await session.scalars(select(MailFolderState))).one()
        assert (state.uidvalidity, state.last_uid) == (after, 3)
        assert "UIDVALIDITY" in caplog.text


async def test_malformed_letters_are_kept_with_what_can_be_read_and_never_stop_the_poller(
    database_url: str, dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    async with mail_desk(database_url, dovecot) as desk:
        bad_charset = (
            b"From: Ivan <" + CUSTOMER.encode() + b">\r\nTo: " + OUR_ADDRESS.encode() + b"\r\n"
            b"Subject: =?x-no-such-charset?B?SGVsbG8=?=\r\nMessage-ID: <bad-charset@x>\r\n"
            b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nPrivet \xff\xfe mir\r\n"
        )
        no_from = (
            b"To: " + OUR_ADDRESS.encode() + b"\r\nCc: " + CUSTOMER.encode() + b"\r\n"
            b"Subject: no sender\r\nMessage-ID: <no-from@x>\r\n\r\nWho sent this?\r\n"
        )
        no_from_nobody = b"Subject: from nowhere\r\n\r\nnobody to file it under\r\n"
        huge_attachment, _ = letter(subject="Big file", attachments=[("big.bin", b"x" * 5000)])
        huge_letter, _ = letter(subject="Huge letter", text="y" * 30_000)
        garbage = bytes(range(256)) * 4
        html_only, _ = letter(
            subject="HTML only", text=None,
            html="<html><head><style>p{color:red}</style><script>alert(1)</script></head>"
            "<body><p>Hello&nbsp;<b>there</b> &amp; welcome</p><img src=x onerror=alert(2)>"
            "<p>Second</p></body></html>",
        )  # fmt: skip
        after, _ = letter(subject="A good letter after all that")
        for raw in (bad_charset, no_from, no_from_nobody, huge_attachment, huge_letter,
                    garbage, html_only, after):  # fmt: skip
            desk.deliver(raw)

        with caplog.at_level(logging.INFO, logger="crm.mail.poller"):
            await desk.poller(max_attachment=1024, max_letter=20_000).poll_all()

        by_subject = {m["subject"]: m for m in await desk.letters()}
        assert "A good letter after all that" in by_subject
        charset = next(m for m in by_subject.values() if m["message_id"] == "<bad-charset@x>")
        assert "Privet" in charset["text"] and "mir" in charset["text"]
        assert any("charset" in p for p in charset["problems"])
        assert by_subject["no sender"]["problems"][:1] == ["no From"]
        assert by_subject["no sender"]["text"].strip() == "Who sent this?"
        [big] = by_subject["Big file"]["attachments"]
        assert (big["available"], big["size"]) == (False, 5000)
        assert "larger than 1024 bytes" in big["refused"]
        assert by_subject["Huge letter"]["text"] == ""
        assert any("only its header" in p for p in by_subject["Huge letter"]["problems"])
        html = by_subject["HTML only"]["text"]
        assert html == "Hello there & welcome\n\nSecond"
        assert "no From" in caplog.text
        async with desk.db.session() as session:
            box = await session.get(Mailbox, desk.mailbox_id)
            assert box is not None and box.last_error is None
            state = (await session.scalars(select(MailFolderState))).one()
        assert state.last_uid == 8


async def test_an_unknown_sender_becomes_a_contact_when_the_mailbox_says_so(
    database_url: str, dovecot: Dovecot
) -> None:
    async with mail_desk(database_url, dovecot, create_contacts=True) as desk:
        desk.deliver(letter(sender="new.client@shop.example", subject="I want to buy")[0])
        await desk.poller().poll_all()
        async with desk.db.session() as session:
            contact = (
                await session.scalars(select(Contact).where(Contact.id != desk.contact_id))
            ).one()
            [stored] = (await session.scalars(select(Letter))).all()
        assert contact.emails == ["new.client@shop.example"]
        assert contact.name == "Ivan Petrov"
        assert stored.contact_id == contact.id and stored.subject == "I want to buy"


async def test_a_mailbox_that_refuses_the_login_keeps_its_error_and_the_others_go_on(
    database_url: str, lonely_dovecot: Dovecot
) -> None:
    dovecot = lonely_dovecot
    async with mail_desk(database_url, dovecot) as desk:
        from crm.mail.mailboxes import MailboxCreate
        from tests.crm.mail.kit_mail import SYSTEM

        wrong = await desk.crm.mailboxes.create(
            MailboxCreate(
                name="Wrong", address="wrong@trubka.example", imap_host=dovecot.host,
                imap_port=dovecot.port, imap_ssl=False, login=desk.login, password="wrong",
            ),
            SYSTEM,
        )  # fmt: skip
        desk.deliver(letter(subject="Still read")[0])
        await desk.poller().poll_all()
        assert [m["subject"] for m in await desk.letters()] == ["Still read"]
        failed = await desk.crm.mailboxes.get(wrong["id"])
        assert failed["last_error"] and "LOGIN" in failed["last_error"]
        assert (await desk.crm.mailboxes.get(desk.mailbox_id))["last_error"] is None


async def test_a_letter_the_database_refuses_is_skipped_with_its_reason(
    database_url: str,
    dovecot: Dovecot,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy.exc import DataError

    import crm.mail.poller

    real = crm.mail.poller.store_letter

    async def refusing(session: Any, parsed: Any, *args: Any, **kwargs: Any) -> list[int]:
        if parsed.subject == "Poison":
            raise DataError("INSERT", {}, Exception("value too long"))
        return await real(session, parsed, *args, **kwargs)

    monkeypatch.setattr(crm.mail.poller, "store_letter", refusing)
    async with mail_desk(database_url, dovecot) as desk:
        for subject in ("Before", "Poison", "After"):
            desk.deliver(letter(subject=subject)[0])
        with caplog.at_level(logging.WARNING, logger="crm.mail.poller"):
            await desk.poller().poll_all()
        assert sorted(m["subject"] for m in await desk.letters()) == ["After", "Before"]
        assert "UID 2: refused" in caplog.text and "value too long" in caplog.text
        async with desk.db.session() as session:
            state = (await session.scalars(select(MailFolderState))).one()
        assert state.last_uid == 3


async def test_a_long_history_is_read_in_batches_one_round_after_another(
    database_url: str, dovecot: Dovecot
) -> None:
    async with mail_desk(database_url, dovecot) as desk:
        for n in range(5):
            desk.deliver(letter(subject=f"Old {n}")[0])
        poller = desk.poller(batch=2, interval=3600)  # only the catch-up wakes it
        task = asyncio.create_task(poller.run())
        try:
            async with asyncio.timeout(15):
                while True:  # the round is counted once it ends, after its letters
                    if poller.rounds >= 3 and len(await desk.letters()) == 5:
                        break
                    await asyncio.sleep(0.02)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert poller.rounds >= 3
        assert sorted(m["subject"] for m in await desk.letters()) == [f"Old {n}" for n in range(5)]
