"""Routing facts: owner, last agent through normalized interfaces, company fallback."""

from __future__ import annotations

from crm.access import Actor
from crm.companies import CompanyService
from crm.contacts import ContactService
from crm.database import Database
from crm.linking import link_records
from crm.models import Role
from crm.routing_facts import RoutingFactsSource
from crm.schemas import CompanyCreate, ContactCreate
from crm.users import UserDirectory, UserService
from tests.crm.kit_builders import SYSTEM, call, store_calls


async def test_facts_for_a_contact(db: Database) -> None:
    users = UserService(db)
    owner = await users.create(
        login="own",
        name="Владелец",
        role="agent",
        password="long password",
        interfaces=["PJSIP/101"],
    )
    talker = await users.create(
        login="talk",
        name="Говорун",
        role="agent",
        password="long password",
        interfaces=["Local/102@agents"],
    )
    company = await CompanyService(db).create(
        CompanyCreate(name="ООО Альфа", phones=["+74950000001"], tags=["b2b"]), SYSTEM
    )
    contact = await ContactService(db).create(
        ContactCreate(
            name="Клиент",
            phones=["+79160000001"],
            company_id=company["id"],
            owner_id=owner.id,
            tags=["VIP"],
        ),
        SYSTEM,
    )
    old = call("+79160000001", agent="PJSIP/101", ago=7200)
    recent = call("+79160000001", agent="Local/102@agents/n", ago=600)
    missed = call("+79160000001", answered=False, ago=60)
    await store_calls(db, old, recent, missed)
    await link_records(db, [old, recent, missed])
    source = RoutingFactsSource(db, UserDirectory(db))
    facts = await source.lookup("+79160000001")
    assert facts is not None and facts.known
    assert (facts.contact_id, facts.contact_name) == (contact["id"], "Клиент")
    assert (facts.company_id, facts.company_name) == (company["id"], "ООО Альфа")
    assert facts.tags == frozenset({"VIP", "b2b"})
    assert (
        facts.owner is not None
        and facts.owner.user_id == owner.id
        and facts.owner.interfaces == ("PJSIP/101",)
    )
    assert facts.last_agent is not None and facts.last_agent.user_id == talker.id
    assert (
        facts.last_talked_at is not None
        and abs(facts.last_talked_at.timestamp() - (recent.answered_at or 0)) < 0.01
    )
    # the company's switchboard number: the company, no owner,
    # and the last agent through its contacts' calls
    by_company = await source.lookup("+74950000001")
    assert (
        by_company is not None
        and by_company.contact_id is None
        and by_company.company_id == company["id"]
    )
    assert by_company.last_agent is not None and by_company.last_agent.user_id == talker.id
    assert await source.lookup("+79990000000") is None
    # an agent who left is not offered
    await users.update(talker.id, talker.version, {"active": False}, actor=Actor.system())
    fresh = await RoutingFactsSource(db, UserDirectory(db)).lookup("+79160000001")
    assert (
        fresh is not None and fresh.last_agent is not None and fresh.last_agent.user_id == owner.id
    )


async def test_cache_serves_and_invalidates(db: Database) -> None:
    await ContactService(db).create(
        ContactCreate(name="A", phones=["+79160000002"]), Actor(None, Role.ADMIN)
    )
    source = RoutingFactsSource(db, UserDirectory(db), cache_ttl=60)
    first = await source.lookup("+79160000002")
    assert first is not None
    contacts = ContactService(db)
    view = await contacts.get(first.contact_id or 0)
    from crm.schemas import ContactUpdate

    await contacts.update(view["id"], ContactUpdate(version=view["version"], name="B"), SYSTEM)
    assert (await source.lookup("+79160000002")) == first  # cached
    source.invalidate("+79160000002")
    again = await source.lookup("+79160000002")
    assert again is not None and again.contact_name == "B"
