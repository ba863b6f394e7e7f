"""`POST /api/inbound/leads`: scopes enforced, the contact created then completed (found by
the same number written another way), deal and task opened, idempotency by key, errors
naming the field in Russian and English, webhook events queued."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from crm.access import Actor
from crm.hooks.models import InboundLead, WebhookEvent
from crm.leads import MESSAGES
from crm.models import Contact, Deal, Phone, Task
from crm.schemas import ContactUpdate
from tests.kit_server import InProcess
from tests.web.conftest import Api
from trubka.app import build_app
from trubka.settings import load_settings
from web.api.leads import LEAD_MESSAGES
from web.i18n import translations

LEADS = "/api/inbound/leads"


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


async def make_token(admin: httpx.AsyncClient, *scopes: str) -> str:
    made = await admin.post("/api/tokens", json={"name": "site", "scopes": list(scopes)})
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


async def count(api: Api, model: Any) -> int:
    async with api.services.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_only_a_token_with_the_leads_scope_may_send(api: Api) -> None:
    async with api.signed_in("boss", "admin") as (admin, _):
        leads = await make_token(admin, "leads")
        contacts = await make_token(admin, "contacts:write", "deals", "tasks")
        as_browser = await admin.post(LEADS, json={"phone": "+7 916 123-45-67"})
        assert as_browser.status_code == 401  # a signed-in browser is no API token
        assert "API" in as_browser.json()["message"]
    async with api.client() as site:
        nobody = await site.post(LEADS, json={"phone": "+7 916 123-45-67"})
        assert nobody.status_code == 401
        unknown = await site.post(
            LEADS, json={"phone": "+7 916 123-45-67"}, headers=bearer("trk_nope")
        )
        assert unknown.status_code == 401
        other = await site.post(LEADS, json={"phone": "+7 916 123-45-67"}, headers=bearer(contacts))
        assert other.status_code == 403 and "leads" in other.json()["message"]
        assert "области доступа" in other.json()["message"]  # the admin's language
        english = await site.post(
            LEADS,
            json={"phone": "+7 916 123-45-67"},
            headers=bearer(contacts, **{"Accept-Language": "en"}),
        )
        assert english.json()["message"] == "this API token lacks the scope leads"
        # the leads scope reaches nothing else
        assert (await site.get("/api/contacts", headers=bearer(leads))).status_code == 403
        ok = await site.post(LEADS, json={"phone": "+7 916 123-45-67"}, headers=bearer(leads))
        assert ok.status_code == 201, ok.text
    assert await count(api, Contact) == 1


async def test_a_lead_creates_then_completes_the_same_contact(api: Api) -> None:
    hook_secret = "a-secret-of-sixteen+"
    async with api.signed_in("boss", "admin") as (admin, boss):
        manager = await api.user("manager", "agent")
        token = await make_token(admin, "leads")
        hook = await admin.post(
            "/api/webhooks",
            json={
                "url": "http://127.0.0.1:9/hook",
                "events": ["contact.created", "contact.updated", "deal.created"],
                "secret": hook_secret,
            },
        )
        assert hook.status_code == 201, hook.text
    first_lead = {
        "name": "Пётр Ильич Чайковский",
        "phone": "8 (916) 123-45-67",
        "company": "ООО «Ромашка»",
        "source": "сайт",
        "comment": "Перезвоните после обеда",
        "deal": {"title": "Рояль", "amount": "150000.50"},
    }
    async with api.client() as site:
        first = await site.post(LEADS, json=first_lead, headers=bearer(token))
        assert first.status_code == 201, first.text
        one = first.json()
        assert one["created"] is True and set(one) == {
            "contact_id",
            "deal_id",
            "task_id",
            "created",
        }
        contact = await api.crm.contacts.get(one["contact_id"])
        assert contact["name"] == "Пётр Ильич Чайковский"  # Cyrillic intact
        assert [p["number"] for p in contact["phones"]] == ["+79161234567"]
        assert contact["company"]["name"] == "ООО «Ромашка»"
        assert contact["custom"] == {"source": "сайт"}
        # give the contact an owner: the next lead's task goes to them
        await api.crm.contacts.update(
            one["contact_id"],
            ContactUpdate(version=contact["version"], owner_id=manager.id),
            Actor.system(),
        )
        second = await site.post(
            LEADS,
            json={
                "name": "",
                "phone": "+7 916 123 45 67",  # the same number, written another way
                "email": "Petr@Example.ru",
                "company": "",
                "source": "другой сайт",
            },
            headers=bearer(token, **{"Accept-Language": "ru"}),
        )
        assert second.status_code == 201, second.text
        two = second.json()
        assert two["created"] is False and two["contact_id"] == one["contact_id"]
        assert two["deal_id"] != one["deal_id"] and two["task_id"] != one["task_id"]
        # and by e-mail alone, in another case
        third = await site.post(LEADS, json={"email": "petr@example.RU"}, headers=bearer(token))
        assert third.json()["contact_id"] == one["contact_id"], third.text
    after = await api.crm.contacts.get(one["contact_id"])
    # nothing stored was lost or emptied; what was missing was added
    assert after["name"] == "Пётр Ильич Чайковский"
    assert after["company"]["name"] == "ООО «Ромашка»"
    assert after["custom"] == {"source": "сайт"}
    assert after["emails"] == ["Petr@Example.ru"]
    assert after["owner_id"] == manager.id
    assert [p["number"] for p in after["phones"]] == ["+79161234567"]
    async with api.services.db.session() as session:
        deal = await session.get(Deal, one["deal_id"])
        assert deal is not None and deal.title == "Рояль" and deal.amount_minor == 15000050
        assert deal.contact_id == one["contact_id"]
        task1 = await session.get(Task, one["task_id"])
        task2 = await session.get(Task, two["task_id"])
        assert task1 is not None and task2 is not None
        assert task1.assignee_id == boss.id  # no owner, no default: the token's admin
        assert "Перезвоните после обеда" in task1.description
        assert task1.deal_id == one["deal_id"] and task1.contact_id == one["contact_id"]
        assert task2.assignee_id == manager.id  # the contact's owner
        assert "другой сайт" in task2.title
        phones = (await session.scalars(select(Phone.number))).all()
        assert list(phones) == ["+79161234567"]
        events = [
            (e.event, json.loads(e.body)["data"].get("id"))
            for e in (await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))).all()
        ]
    assert events[:2] == [("contact.created", one["contact_id"]), ("deal.created", one["deal_id"])]
    assert ("contact.updated", one["contact_id"]) in events
    assert ("deal.created", two["deal_id"]) in events


async def test_the_default_assignee_owns_new_contacts(database_url: str) -> None:
    app = build_app(load_settings(database_url=database_url, lead_assignee="sales"))
    async with InProcess(app) as server:
        api = Api(server, app.state.services)
        sales = await api.user("sales", "agent")
        async with api.signed_in("boss", "admin") as (admin, _):
            token = await make_token(admin, "leads")
        async with api.client() as site:
            made = await site.post(LEADS, json={"email": "a@b.ru"}, headers=bearer(token))
            assert made.status_code == 201, made.text
        contact = await api.crm.contacts.get(made.json()["contact_id"])
        assert contact["owner_id"] == sales.id and contact["name"] == "a@b.ru"
        async with api.services.db.session() as session:
            task = await session.get(Task, made.json()["task_id"])
            assert task is not None and task.assignee_id == sales.id
        # a contact whose owner left: the task goes to the default assignee
        gone = await api.user("gone", "agent")
        await api.crm.contacts.update(
            contact["id"],
            ContactUpdate(version=contact["version"], owner_id=gone.id),
            Actor.system(),
        )
        await api.crm.users.update(gone.id, gone.version, {"active": False}, actor=Actor.system())
        async with api.client() as site:
            again = await site.post(LEADS, json={"email": "A@B.ru"}, headers=bearer(token))
        assert again.json()["contact_id"] == contact["id"]
        async with api.services.db.session() as session:
            task = await session.get(Task, again.json()["task_id"])
            assert task is not None and task.assignee_id == sales.id


async def test_an_idempotency_key_answers_a_repeat_the_same(api: Api) -> None:
    async with api.signed_in("boss", "admin") as (admin, _):
        token = await make_token(admin, "leads")
    lead = {"name": "Анна", "phone": "+7 495 123-45-67"}
    key = {"Idempotency-Key": "form-42"}
    async with api.client() as site:
        first = await site.post(LEADS, json=lead, headers=bearer(token, **key))
        again = await site.post(LEADS, json=lead, headers=bearer(token, **key))
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json() and first.json()["created"] is True
        assert again.headers.get("idempotent-replayed") == "true"
        assert await count(api, Contact) == 1
        assert await count(api, Deal) == 1 and await count(api, Task) == 1
        other = await site.post(LEADS, json={**lead, "name": "Борис"}, headers=bearer(token, **key))
        assert other.status_code == 409, other.text
        assert "Idempotency-Key" in other.json()["message"]
        # without a key, a second lead is a second deal and task (same contact)
        plain = await site.post(LEADS, json=lead, headers=bearer(token))
        assert plain.json()["contact_id"] == first.json()["contact_id"]
        assert plain.json()["deal_id"] != first.json()["deal_id"]
    assert await count(api, InboundLead) == 1
    assert await count(api, Deal) == 2
    # a key is kept a week: older ones go when a new key is stored
    async with api.services.db.transaction() as session:
        await session.execute(
            update(InboundLead).values(created_at=datetime.now(UTC) - timedelta(days=8))
        )
    async with api.client() as site:
        newer = await site.post(
            LEADS, json=lead, headers=bearer(token, **{"Idempotency-Key": "form-43"})
        )
        assert newer.status_code == 201
    async with api.services.db.session() as session:
        keys = (await session.scalars(select(InboundLead.idempotency_key))).all()
    assert list(keys) == ["form-43"]


async def test_bad_leads_are_refused_naming_the_field_in_the_request_language(api: Api) -> None:
    async with api.signed_in("boss", "admin") as (admin, _):
        token = await make_token(admin, "leads")
    cases: list[tuple[dict[str, Any], str, str, str]] = [
        # body, field, Russian fragment, English fragment
        ({"name": "Без телефона"}, "phone", "укажите хотя бы одно", "give at least one"),
        ({"phone": "12"}, "phone", "не номер телефона", "not a phone number"),
        ({"phone": "+79161234567", "email": "нет"}, "email", "почта", "Email"),
        ({"phone": "+79161234567", "name": "x" * 300}, "name", "Имя", "Name"),
        (
            {"phone": "+79161234567", "deal": {"amount": "-5"}},
            "deal.amount",
            "Сумма",
            "Amount",
        ),
        ({"phone": "+79161234567", "colour": "red"}, "colour", "неизвестное", "unknown field"),
    ]
    async with api.client() as site:
        for body, field, ru, en in cases:
            for lang, fragment in (("ru", ru), ("en", en)):
                answer = await site.post(
                    LEADS, json=body, headers=bearer(token, **{"Accept-Language": lang})
                )
                assert answer.status_code == 422, (body, answer.text)
                assert answer.json()["field"] == field, (body, answer.text)
                assert fragment in answer.json()["message"], (body, lang, answer.text)
    assert await count(api, Contact) == 0 and await count(api, Deal) == 0


def test_every_refusal_of_the_service_has_russian() -> None:
    assert set(LEAD_MESSAGES) == set(MESSAGES)
    russian = translations("ru")
    assert all(russian.gettext(m) != m for m in MESSAGES)


async def test_the_same_key_sent_at_once_makes_one_lead(api: Api) -> None:
    async with api.signed_in("boss", "admin") as (admin, _):
        token = await make_token(admin, "leads")
    lead = {"name": "Вера", "phone": "+7 916 765-43-21", "deal": {"title": "Пианино"}}
    async with api.client() as site:
        answers = await asyncio.gather(
            *(
                site.post(LEADS, json=lead, headers=bearer(token, **{"Idempotency-Key": "k-1"}))
                for _ in range(4)
            )
        )
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert await count(api, Contact) == 1
    assert await count(api, Deal) == 1 and await count(api, Task) == 1
