"""The rules' `send_email` action: a letter to the event's contact over a mailbox's SMTP.

Fields: `mailbox_id` (the mailbox it goes from), and either `template_id` (a named letter
template, `crm.mail.named_templates`) or its own `subject` and `body`; with both, the
action's own subject or body wins where it is not empty. The texts are the letters'
sandboxed templates over the event's fields and `contact` (`name`, `emails`, `company`),
`user` (`name`: empty, a rule sends it), `mailbox` (`name`, `address`).

Saving refuses a template id or mailbox id that does not exist (`check_references`); at
run time a template deleted since makes the action log "letter template N no longer
exists" and send nothing. The letter is sent (`Mailer`:
`crm.mail.letters.LetterService.send_for_rule`) and kept in the contact's timeline in the
action's own transaction; on SQLite that transaction writes only after the SMTP answer, so
no write lock is held while the mail server is slow.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.errors import CrmError, InvalidInput
from crm.mail.models import Mailbox
from crm.mail.named_templates import SAMPLE, TEMPLATE_NOT_FOUND, MailTemplate
from crm.mail.templates import render
from crm.models import Company, Contact

LOGGED_BODY = 300  # characters of the body kept in the run log
TEMPLATE_GONE = "letter template {id} no longer exists"
MAILBOX_GONE = "the mailbox cannot send letters (removed, disabled or without SMTP)"
NO_CONTACT_ADDRESS = "the contact has no e-mail address"


class Mailer(Protocol):
    async def __call__(self, session: AsyncSession, letter: dict[str, Any]) -> int:
        """Send `letter` (`mailbox_id`, `contact_id`, `to`, `subject`, `body`) and keep
        it in the contact's timeline in `session`; the letter's id."""
        ...


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput("a whole number is expected", field=where)
    return value


def validate_email(item: dict[str, Any], where: str, sample: dict[str, Any]) -> dict[str, Any]:
    """A `send_email` action, checked: its own texts compile and render in the sandbox."""
    spec: dict[str, Any] = {"type": "send_email"}
    spec["mailbox_id"] = _int(item.get("mailbox_id"), f"{where}.mailbox_id")
    template_id = item.get("template_id")
    spec["template_id"] = (
        None if template_id in (None, "") else _int(template_id, f"{where}.template_id")
    )
    facts = {**sample, **SAMPLE}
    for key, limit in (("subject", 998), ("body", 100_000)):
        text = item.get(key) or ""
        if not isinstance(text, str) or len(text) > limit:
            raise InvalidInput("a text is expected", field=f"{where}.{key}")
        render(text, facts, f"{where}.{key}")
        spec[key] = text
    if spec["template_id"] is None and not spec["body"].strip():
        raise InvalidInput(
            "enter the letter's text or choose a template", field=f"{where}.template_id"
        )
    return spec


async def check_references(session: AsyncSession, actions: list[dict[str, Any]]) -> None:
    """Refuse a `send_email` action naming a template or a mailbox that does not exist."""
    for index, spec in enumerate(actions):
        if spec.get("type") != "send_email":
            continue
        template_id = spec.get("template_id")
        if template_id is not None and await session.get(MailTemplate, template_id) is None:
            raise InvalidInput(TEMPLATE_NOT_FOUND, field=f"actions.{index}.template_id")
        found = await session.scalar(select(Mailbox.id).where(Mailbox.id == spec["mailbox_id"]))
        if found is None:
            raise InvalidInput("no such mailbox", field=f"actions.{index}.mailbox_id")


class EmailActionError(Exception):
    """The letter cannot be made for this event (the caller logs it as `ActionError`)."""


async def plan_email(
    session: AsyncSession, spec: dict[str, Any], facts: dict[str, Any]
) -> dict[str, Any]:
    """The letter the action would send for this event (no writes)."""
    contact_id = facts.get("contact_id")
    contact = await session.get(Contact, contact_id) if contact_id else None
    if contact is None:
        raise EmailActionError("the event has no contact")
    to = next(iter(contact.emails or []), None)
    if not to:
        raise EmailActionError(NO_CONTACT_ADDRESS)
    box = await session.get(Mailbox, spec["mailbox_id"])
    if box is None or not box.enabled or not box.smtp_host:
        raise EmailActionError(MAILBOX_GONE)
    subject, body = spec.get("subject") or "", spec.get("body") or ""
    if spec.get("template_id") is not None:
        named = await session.get(MailTemplate, spec["template_id"])
        if named is None:
            raise EmailActionError(TEMPLATE_GONE.format(id=spec["template_id"]))
        subject, body = subject or named.subject, body or named.body
    company = await session.get(Company, contact.company_id) if contact.company_id else None
    context = {
        **facts,
        "contact": {
            "name": contact.name,
            "emails": list(contact.emails or []),
            "company": company.name if company else "",
        },
        "user": {"name": ""},
        "mailbox": {"name": box.name, "address": box.address},
    }
    try:
        rendered_subject = render(subject, context, "subject")
        rendered_body = render(body, context, "body")
    except CrmError as exc:
        raise EmailActionError(f"{exc.field}: {exc.message}") from exc
    return {
        "mailbox_id": box.id,
        "template_id": spec.get("template_id"),
        "contact_id": contact.id,
        "to": to,
        "subject": rendered_subject,
        "body": rendered_body,
    }
