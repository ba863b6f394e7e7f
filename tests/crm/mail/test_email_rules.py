"""`email.received` end to end against a real IMAP server: a letter from a VIP contact,
polled, makes the rule's task for the owner once — polling again, by a restarted poller,
or the same letter delivered again, makes no second one; a letter we sent makes none."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.models import Contact, ContactTag, Task
from crm.rules.models import RuleEvent
from crm.rules.worker import RuleWorker, WorkerConfig
from crm.users import UserService
from tests.crm.mail.kit_dovecot import Dovecot
from tests.crm.mail.kit_mail import CUSTOMER, OUR_ADDRESS, MailDesk, letter, mail_desk

RULE = {
    "name": "VIP letter",
    "event": "email.received",
    "conditions": [
        {"field": "contact_tags", "op": "has", "value": "vip"},
        {"field": "has_attachments", "op": "eq", "value": 1},
        {"field": "mailbox", "op": "eq", "value": OUR_ADDRESS},
    ],
    "actions": [
        {
            "type": "create_task",
            "title": "Answer {{ from_name }}: {{ subject }} ({{ attachments }})",
            "assignee": ["owner"],
            "due_hours": 1,
        }
    ],
}


async def drain(desk: MailDesk) -> list[Task]:
    worker = RuleWorker(desk.crm.rules.runtime, WorkerConfig(poll_interval=0.02))
    while await worker.run_once():
        pass
    async with desk.db.session() as session:
        return list((await session.scalars(select(Task).order_by(Task.id))).all())


async def test_a_letter_from_a_vip_makes_one_task_for_the_owner(
    database_url: str, dovecot: Dovecot
) -> None:
    async with mail_desk(database_url, dovecot, sent_folder="Sent") as desk:
        owner = await UserService(desk.db).create(
            login="owner", name="Owner", role="agent", password="long password"
        )
        async with desk.db.transaction() as session:
            contact = await session.get(Contact, desk.contact_id)
            assert contact is not None
            contact.owner_id = owner.id
            session.add(ContactTag(contact_id=desk.contact_id, tag="vip"))
        await desk.crm.rules.create(RULE, None)

        raw, _ = letter(subject="Contract <signed>", attachments=[("contract.pdf", b"%PDF-1")])
        desk.deliver(raw)
        desk.deliver(letter(subject="No files")[0])  # no attachment: the rule does not hold
        desk.deliver(letter(sender=OUR_ADDRESS, to=CUSTOMER, subject="Ours")[0], "Sent")
        await desk.poller().poll_all()
        assert len(await desk.letters()) == 3

        [task] = await drain(desk)
        assert task.title == "Answer Ivan Petrov: Contract <signed> (1)"
        assert (task.assignee_id, task.contact_id) == (owner.id, desk.contact_id)

        await desk.poller().poll_all()  # a restarted poller
        desk.deliver(raw)  # the same letter again: known by its Message-ID
        await desk.poller().poll_all()
        assert len(await drain(desk)) == 1
        async with desk.db.session() as session:
            events = (await session.scalars(select(RuleEvent.event))).all()
            assert events == ["email.received", "email.received"]  # the two inbound ones
            assert await session.scalar(select(func.count()).select_from(Task)) == 1
        runs = await desk.crm.rules.runs((await desk.crm.rules.list())[-1]["id"])
        assert sorted(r["matched"] for r in runs) == [False, True]
