"""The hot paths' read gateway: every statement comes back as a typed row, on both
databases (PostgreSQL brings the last calls along with the number; SQLite reads them
with a second statement)."""

from __future__ import annotations

from datetime import datetime

from crm.companies import CompanyService
from crm.contacts import ContactService
from crm.database import Database
from crm.fastpath import FastReader
from crm.hot_queries import (
    CONTACTS_WITH_NUMBER,
    CONTACTS_WITH_NUMBER_OR_END,
    CONTACTS_WITH_NUMBER_OR_END_UNBOUNDED,
    LAST_CALLS_OF_CONTACT,
    NUMBER_FACTS,
    LastCall,
    NumberFacts,
    NumberMatch,
)
from crm.linking import link_records
from crm.numbers import suffix_range
from crm.schemas import CompanyCreate, ContactCreate
from tests.crm.kit_builders import SYSTEM, call, store_calls


async def test_rows_come_back_typed(db: Database) -> None:
    company = await CompanyService(db).create(
        CompanyCreate(name="ООО Бета", phones=["+74950000002"], tags=["b2b"]), SYSTEM
    )
    contact = await ContactService(db).create(
        ContactCreate(
            name="Клиентка", phones=["+79160000002"], company_id=company["id"], tags=["VIP"]
        ),
        SYSTEM,
    )
    answered = call("+79160000002", agent="PJSIP/101", ago=600)
    await store_calls(db, answered)
    await link_records(db, [answered])
    reader = FastReader(db)
    try:
        [facts] = await reader.rows(NUMBER_FACTS, {"number": "+79160000002"})
        assert isinstance(facts, NumberFacts)
        assert (facts.contact_id, facts.contact_name) == (contact["id"], "Клиентка")
        assert (facts.company_id, facts.company_name) == (company["id"], "ООО Бета")
        assert facts.tags == frozenset({"VIP", "b2b"})
        if db.dialect == "postgresql":
            assert facts.last_calls is not None and len(facts.last_calls) == 1
        else:
            assert facts.last_calls is None
        [last] = await reader.rows(LAST_CALLS_OF_CONTACT, {"id": contact["id"]})
        assert isinstance(last, LastCall) and last.agent_interface == "PJSIP/101"
        assert isinstance(last.talked_at, datetime) and last.talked_at.tzinfo is not None
        assert abs(last.talked_at.timestamp() - (answered.answered_at or 0)) < 0.01
        assert facts.last_calls in (None, (last,))
        assert await reader.rows(NUMBER_FACTS, {"number": "+79990000000"}) == []
        ids = await reader.rows(
            CONTACTS_WITH_NUMBER, {"a": "+79160000002", "b": "8 916 000-00-02", "n": 5}
        )
        assert ids == [contact["id"]]
        low, high = suffix_range("0000002")
        typed = {"a": "0000002", "b": "0000002", "low": low, "high": high, "n": 5}
        by_end = await reader.rows(CONTACTS_WITH_NUMBER_OR_END, typed)
        assert by_end == [NumberMatch(1, contact["id"])]
        exact = {"a": "+79160000002", "b": "9160000002", "low": low, "high": high, "n": 5}
        both = await reader.rows(CONTACTS_WITH_NUMBER_OR_END, exact)
        assert sorted(both) == [NumberMatch(0, contact["id"]), NumberMatch(1, contact["id"])]
        low, high = suffix_range("99")  # all nines: no upper bound
        assert high is None
        unbounded = {"a": "99", "b": "99", "low": low, "n": 5}
        assert await reader.rows(CONTACTS_WITH_NUMBER_OR_END_UNBOUNDED, unbounded) == []
    finally:
        reader.close()
