"""Demo data for `trubka demo`: users, companies, contacts the simulated PBX calls, history.

`seed_demo(db)` is idempotent (the demo database survives restarts) and returns the
logins to print. Agents 101–105 match the simulated PBX's queue members
(`Local/10X@agents/n`, or the SIP phones `PJSIP/10X` with `pjsip=True`, the same
names); contacts cover the numbers its customers call
from (`+7495111000N`, `+7916555000N`, `+7926333000N` — every seventh left unknown, so
the demo shows strangers too) plus companies, owners, tags, notes, tasks, deals and a
few weeks of answered and missed calls, so routing to the previous manager and the
screen pop have something to show.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from sqlalchemy import func, select

from crm.access import Actor
from crm.call_records import CallStore
from crm.companies import CompanyService
from crm.contacts import ContactService
from crm.database import Database
from crm.deals import DealService
from crm.linking import link_records
from crm.models import Contact, Role
from crm.names import TAGS, company, email_for, person
from crm.notes import NoteService
from crm.schemas import CompanyCreate, ContactCreate, DealCreate, NoteCreate, TaskCreate
from crm.tasks import TaskService
from crm.users import UserService
from kernel.call_record import CallRecord, Direction, Disposition

DEMO_PASSWORD = "trubka-demo"
DEMO_AGENTS = (
    ("101", "Анна Смирнова", ("support",)),
    ("102", "Борис Иванов", ("support",)),
    ("103", "Виктория Орлова", ("support", "sales")),
    ("104", "Григорий Павлов", ("sales",)),
    ("105", "Дарья Кузнецова", ("sales", "support")),
)


@dataclass(frozen=True, slots=True)
class DemoUser:
    role: str
    login: str
    password: str
    name: str


def _demo_phone(interfaces: tuple[str, ...]) -> bool:
    """Still the one phone the demo gave (an admin may have changed it: then keep it)."""
    return len(interfaces) == 1 and (
        interfaces[0].startswith("PJSIP/") or interfaces[0].endswith("@agents/n")
    )


def demo_number(i: int) -> str:
    """The simulated PBX's i-th customer number, in E.164."""
    if i % 3 == 0:
        return f"+7495{1110000 + i:07d}"
    if i % 3 == 1:
        return f"+7916{5550000 + i:07d}"
    return f"+7926{3330000 + i:07d}"


def demo_interface(ext: str, *, pjsip: bool = False) -> str:
    """The phone of a demo user, as the simulated PBX names it in either channel mode."""
    return f"PJSIP/{ext}" if pjsip else f"Local/{ext}@agents/n"


async def seed_demo(
    db: Database, *, contacts: int = 300, region: str = "RU", pjsip: bool = False
) -> list[DemoUser]:
    users = UserService(db)
    logins: list[DemoUser] = []
    agent_ids: list[int] = []
    for ext, name, queues in DEMO_AGENTS:
        login = f"agent{ext}"
        interfaces = [demo_interface(ext, pjsip=pjsip)]
        info = await users.get_by_login(login)
        if info is None:
            info = await users.create(
                login=login,
                name=name,
                role=Role.AGENT,
                password=DEMO_PASSWORD,
                interfaces=interfaces,
                queues=queues,
            )
        elif _demo_phone(info.interfaces) and list(info.interfaces) != interfaces:
            # The demo database survives restarts: a demo started in the other channel
            # mode gives the agents their phones in this one.
            info = await users.update(
                info.id, info.version, {"interfaces": interfaces}, actor=Actor.system()
            )
        agent_ids.append(info.id)
        logins.append(DemoUser("agent", login, DEMO_PASSWORD, name))
    for role, login, name in (
        ("supervisor", "supervisor", "Елена Руководитель"),
        ("admin", "admin", "Администратор"),
    ):
        # the supervisor's own phone (listen, whisper, barge): extension 200
        own = [demo_interface("200", pjsip=pjsip)] if role == "supervisor" else []
        existing_user = await users.get_by_login(login)
        if existing_user is None:
            await users.create(
                login=login,
                name=name,
                role=role,
                password=DEMO_PASSWORD,
                language="ru",
                interfaces=own,
            )
        elif (
            own and _demo_phone(existing_user.interfaces) and list(existing_user.interfaces) != own
        ):
            await users.update(
                existing_user.id,
                existing_user.version,
                {"interfaces": own},
                actor=Actor.system(),
            )
        logins.append(DemoUser(role, login, DEMO_PASSWORD, name))

    async with db.session() as session:
        existing = int(await session.scalar(select(func.count(Contact.id))) or 0)
    if existing:
        return logins  # contacts were seeded on an earlier start

    rng = random.Random(2026)
    system = Actor.system()
    contact_service = ContactService(db, region=region)
    company_ids = []
    for i in range(12):
        created = await CompanyService(db, region=region).create(
            CompanyCreate(
                name=company(rng, 0) if i else "ООО «Ромашка»",
                phones=[f"+7495222{i:04d}"],
                owner_id=rng.choice(agent_ids),
                tags=rng.sample(TAGS, 1),
            ),
            system,
        )
        company_ids.append(created["id"])
    made: list[tuple[int, str, int | None]] = []
    for i in range(contacts):
        if i % 7 == 6:
            continue  # an unknown caller
        name = person(rng)
        owner = rng.choice(agent_ids) if rng.random() < 0.75 else None
        view = await contact_service.create(
            ContactCreate(
                name=name,
                phones=[demo_number(i)],
                emails=[email_for(name, rng, i)] if rng.random() < 0.5 else [],
                company_id=rng.choice(company_ids) if rng.random() < 0.3 else None,
                owner_id=owner,
                tags=rng.sample(TAGS, rng.randint(0, 2)),
                custom={"Источник": rng.choice(("сайт", "реклама", "рекомендация", "выставка"))},
            ),
            system,
        )
        made.append((view["id"], demo_number(i), owner))
    notes, tasks, deals = NoteService(db), TaskService(db), DealService(db)
    for contact_id, _, owner in made[:60]:
        await notes.create(
            NoteCreate(
                contact_id=contact_id,
                body=rng.choice(
                    (
                        "Просил перезвонить после обеда.",
                        "Интересуется оптовыми ценами.",
                        "Отправили коммерческое предложение.",
                        "Недоволен сроками доставки.",
                        "Постоянный клиент, скидка 5%.",
                    )
                ),
            ),
            system,
        )
        if rng.random() < 0.5:
            await tasks.create(
                TaskCreate(title="Перезвонить клиенту", contact_id=contact_id, assignee_id=owner),
                system,
            )
        if rng.random() < 0.4:
            await deals.create(
                DealCreate(
                    title=f"Заказ №{contact_id}",
                    contact_id=contact_id,
                    amount=rng.randint(5, 500) * 1000,
                    owner_id=owner,
                ),
                system,
            )
    await _history(db, made, rng)
    return logins


async def _history(
    db: Database, made: list[tuple[int, str, int | None]], rng: random.Random
) -> None:
    """A few weeks of calls: most answered by the contact's owner, some missed."""
    users = await UserService(db).list()
    by_id = {u.id: u for u in users}
    agents = [u for u in users if u.role == Role.AGENT and u.interfaces]
    now = time.time()
    records = []
    for n in range(len(made) * 2):
        _, number, owner = rng.choice(made)
        start = now - rng.uniform(3600, 21 * 86400)
        answered = rng.random() < 0.85
        agent = by_id.get(owner) if owner and rng.random() < 0.7 else None
        if answered and (agent is None or not agent.interfaces):
            agent = rng.choice(agents)
        interface = agent.interfaces[0] if answered and agent and agent.interfaces else None
        wait = rng.uniform(2, 30)
        talk = rng.uniform(30, 400) if interface else 0.0
        records.append(
            CallRecord(
                linkedid=f"{int(start)}.{n}",
                direction=Direction.INBOUND,
                caller_number=number,
                caller_name=None,
                called_number="100",
                queue="support",
                agent_interface=interface,
                agent_name=agent.name if interface and agent else None,
                started_at=start,
                answered_at=start + wait if interface else None,
                ended_at=start + wait + talk,
                wait_seconds=wait,
                talk_seconds=talk,
                disposition=Disposition.ANSWERED if interface else Disposition.ABANDONED,
                routed_by="queue",
                agents=(interface,) if interface else (),
            )
        )
    await CallStore(db).save(records)
    await link_records(db, records)
