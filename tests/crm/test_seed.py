"""`trubka seed`'s bulk path: data that looks like what the CRM itself would have stored."""

from __future__ import annotations

from sqlalchemy import func, select, text

from crm.call_records import CallRow
from crm.database import Database
from crm.linking import resolve_numbers
from crm.models import Company, Contact, Phone
from crm.routing_facts import RoutingFactsSource
from crm.search import SearchService
from crm.seed import mobile, seed
from crm.users import UserDirectory
from kernel.phones import parse


async def test_seed_links_calls_like_the_crm_and_indexes_search(db: Database) -> None:
    report = await seed(db, contacts=300, calls=3000, agents=3, rng_seed=42)
    assert len(report.agents_created) == 3 and report.password
    async with db.session() as session:
        assert await session.scalar(select(func.count(Contact.id))) == 300
        assert await session.scalar(select(func.count(Company.id))) == 30
        assert await session.scalar(select(func.count(CallRow.id))) == 3000
        numbers = (await session.scalars(select(Phone.number))).all()
        assert all(parse(n, "RU").e164 == n for n in numbers)
        rows = (
            await session.execute(
                select(CallRow.caller_number, CallRow.contact_id, CallRow.company_id)
                .where(CallRow.direction == "inbound")
                .limit(500)
            )
        ).all()
        owners = await resolve_numbers(session, [r[0] for r in rows])
        for number, contact_id, company_id in rows:
            assert owners.get(number, (None, None)) == (contact_id, company_id)
        some_name = await session.scalar(select(Contact.name).where(Contact.id == 7))
        answered = await session.scalar(
            text(
                "SELECT COUNT(*) FROM calls WHERE disposition = 'answered' AND agent_interface "
                "IS NOT NULL"
            )
        )
        assert answered and answered > 2000
    assert some_name
    surname = some_name.split()[-1]
    found = await SearchService(db).search(surname[:4])
    assert found["contacts"], surname
    facts = await RoutingFactsSource(db, UserDirectory(db)).lookup(mobile(7))
    assert facts is not None and facts.contact_id == 7
    # a second run adds to what is there, with the same agents
    again = await seed(db, contacts=10, calls=10, rng_seed=1)
    assert again.agents_created == []
    async with db.session() as session:
        assert await session.scalar(select(func.count(Contact.id))) == 310
