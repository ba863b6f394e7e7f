"""Tags of contacts and companies: replaced when given, kept when not (one helper)."""

from __future__ import annotations

from crm.access import Actor
from crm.database import Database
from crm.schemas import CompanyCreate, CompanyUpdate, ContactCreate, ContactUpdate
from crm.services import CrmServices


async def test_tags_are_replaced_cleaned_or_kept(db: Database) -> None:
    crm = CrmServices.create(db)
    system = Actor.system()
    try:
        company = await crm.companies.create(
            CompanyCreate(name="Ромашка", tags=["опт", "VIP"]), system
        )
        changed = await crm.companies.update(
            company["id"],
            CompanyUpdate(version=company["version"], tags=[" vip ", "Опт", "новый"]),
            system,
        )
        assert changed["tags"] == ["vip", "Опт", "новый"]
        kept = await crm.companies.update(
            company["id"], CompanyUpdate(version=changed["version"], name="Ромашка 2"), system
        )
        assert kept["tags"] == ["vip", "Опт", "новый"]

        contact = await crm.contacts.create(ContactCreate(name="Анна", tags=["a"]), system)
        changed = await crm.contacts.update(
            contact["id"], ContactUpdate(version=contact["version"], tags=[]), system
        )
        assert changed["tags"] == []
        kept = await crm.contacts.update(
            contact["id"], ContactUpdate(version=changed["version"], name="Анна С."), system
        )
        assert kept["tags"] == []
    finally:
        crm.close()
