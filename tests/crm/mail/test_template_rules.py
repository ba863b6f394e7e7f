"""The rules' `send_email` action with a named letter template, against a real SMTP
server (aiosmtpd): the letter goes to the contact, rendered for them, and lands in the
timeline; a template id that does not exist is refused when the rule is saved, and a
template deleted since makes the action log a clear error at run time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest

from crm.errors import InvalidInput
from crm.mail.named_templates import MailTemplateCreate
from crm.rules.worker import RuleWorker, WorkerConfig
from crm.schemas import ContactUpdate
from tests.crm.mail.kit_dovecot import Dovecot
from tests.crm.mail.kit_mail import CUSTOMER, SYSTEM, MailDesk, mail_desk
from tests.crm.mail.kit_smtp import SmtpServer


@asynccontextmanager
async def sending_desk(
    database_url: str, dovecot: Dovecot
) -> AsyncIterator[tuple[MailDesk, SmtpServer]]:
    """A mail desk whose mailbox sends through a real SMTP server (aiosmtpd)."""
    login, password = dovecot.new_user()
    smtp = SmtpServer(login, password).start()
    try:
        async with mail_desk(
            database_url,
            dovecot,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_security="none",
            smtp_login=login,
            password=password,
        ) as desk:
            yield desk, smtp
    finally:
        smtp.stop()


async def drain(desk: MailDesk) -> None:
    worker = RuleWorker(desk.crm.rules.runtime, WorkerConfig(poll_interval=0.02))
    while await worker.run_once():
        pass


def rule(desk: MailDesk, template_id: int, **action: Any) -> dict[str, Any]:
    return {
        "name": "Missed you",
        "event": "contact.updated",
        "actions": [
            {
                "type": "send_email",
                "mailbox_id": desk.mailbox_id,
                "template_id": template_id,
                **action,
            }
        ],
    }


async def touch(desk: MailDesk, version: int, tag: str) -> None:
    await desk.crm.contacts.update(
        desk.contact_id, ContactUpdate(version=version, tags=[tag]), SYSTEM
    )


async def test_a_rule_sends_a_named_template_to_the_contact(
    database_url: str, dovecot: Dovecot
) -> None:
    async with sending_desk(database_url, dovecot) as (desk, smtp):
        made = await desk.crm.mail_templates.create(
            MailTemplateCreate(
                name="Missed you",
                subject="We missed you, {{ contact.name }}",
                body="Hello {{ contact.name }}, from {{ mailbox.name }}.",
            ),
            SYSTEM,
        )
        with pytest.raises(InvalidInput) as refused:
            await desk.crm.rules.create(rule(desk, made["id"] + 100), None)
        assert refused.value.field == "actions.0.template_id"
        saved = await desk.crm.rules.create(rule(desk, made["id"]), None)

        await touch(desk, 1, "a")
        await drain(desk)
        [received] = smtp.received
        assert [a.lower() for a in received.rcpt_tos] == [CUSTOMER]
        message = message_from_bytes(received.data, policy=default_policy)
        assert message["Subject"] == "We missed you, Ivan Petrov"
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        assert part.get_content().strip() == ("Hello Ivan Petrov, from Sales.")
        [letter] = await desk.letters()
        assert letter["direction"] == "out"
        assert letter["subject"] == "We missed you, Ivan Petrov"
        [run] = await desk.crm.rules.runs(saved["id"])
        assert run["errors"] == [] and run["actions"][0]["status"] == "done"

        await desk.crm.mail_templates.delete(made["id"], SYSTEM)
        await touch(desk, 2, "b")
        await drain(desk)
        assert len(smtp.received) == 1  # nothing sent
        runs = await desk.crm.rules.runs(saved["id"])
        errors = [e for r in runs for e in r["errors"]]
        assert errors == [f"action 0 (send_email): letter template {made['id']} no longer exists"]
        assert len(await desk.letters()) == 1


async def test_the_action_s_own_subject_and_body_still_work(
    database_url: str, dovecot: Dovecot
) -> None:
    async with sending_desk(database_url, dovecot) as (desk, smtp):
        own = {
            "name": "Own text",
            "event": "contact.updated",
            "actions": [
                {
                    "type": "send_email",
                    "mailbox_id": desk.mailbox_id,
                    "subject": "Hi {{ contact_name }}",
                    "body": "Tags: {{ contact_tags | join(',') }}",
                }
            ],
        }
        with pytest.raises(InvalidInput) as broken:
            await desk.crm.rules.create(
                {**own, "actions": [{**own["actions"][0], "body": "{{ oops"}]}, None
            )
        assert broken.value.field == "actions.0.body"
        await desk.crm.rules.create(own, None)
        await touch(desk, 1, "vip")
        await drain(desk)
        [received] = smtp.received
        message = message_from_bytes(received.data, policy=default_policy)
        assert message["Subject"] == "Hi Ivan Petrov"
        assert len(await desk.letters()) == 1
