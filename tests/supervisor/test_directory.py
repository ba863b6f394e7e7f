"""The live view's CRM lookups (logins by interface, contacts by number, cached) and the
callback tasks of missed calls, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from crm.access import Actor
from crm.companies import CompanyService
from crm.contacts import ContactService
from crm.database import Database
from crm.schemas import CompanyCreate, ContactCreate, TaskCreate, TaskUpdate
from crm.tasks import TaskService
from crm.users import UserDirectory, UserService
from supervisor.callbacks import TasksOfCalls
from supervisor.directory import CrmLiveDirectory
from supervisor.missed import MissedCalls
from supervisor.periods import ReportPeriod
from telephony.records import CallRecord, Direction, Disposition
from tests.supervisor.conftest import reporting


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_logins_and_contacts_come_from_memory(db: Database) -> None:
    crm_directory = UserDirectory(db)
    users = UserService(db, crm_directory)  # as in CrmServices: changes reload the directory
    anna = await users.create(
        login="anna", name="Анна Смирнова", role="agent", password="password1",
        interfaces=["Local/101@agents/n", "PJSIP/101"],
    )  # fmt: skip
    system = Actor.system()
    company = await CompanyService(db).create(
        CompanyCreate(name="ООО «Ромашка»", phones=["+74952220000"]), system
    )
    contact = await ContactService(db).create(
        ContactCreate(
            name="Иван <b>Петров</b>", phones=["8 495 111-00-01"], company_id=company["id"]
        ),
        system,
    )
    clock = Clock()
    directory = CrmLiveDirectory(db, crm_directory, ttl=60, clock=clock)
    lookups = await directory.resolve(
        ["Local/101@agents"], ["+74951110001", "+74952220000", "+79990000000"]
    )
    assert lookups.login_for("Local/101@agents") == "anna"  # Asterisk's spelling, CRM's key
    assert lookups.login_for("PJSIP/101") == "anna"
    assert lookups.person_for("Local/101@agents") == (anna.id, "anna", "Анна Смирнова")
    assert lookups.login_for("Local/102@agents") is None
    assert lookups.contact_for("+74951110001") == {
        "id": contact["id"],
        "name": "Иван <b>Петров</b>",  # escaped by the page, not here
        "company_id": company["id"],
        "company": "ООО «Ромашка»",
    }
    assert lookups.contact_for("+74952220000") == {
        "id": None,
        "name": None,
        "company_id": company["id"],
        "company": "ООО «Ромашка»",
    }
    assert lookups.contact_for("+79990000000") is None  # unknown numbers are cached too
    queries = directory.queries
    await directory.fetch(["+74951110001", "+79990000000"])
    assert directory.queries == queries  # all known: no query
    # a number first asked while building is fetched afterwards
    assert lookups.contact_for("+74951110002") is None
    assert directory.missing == {"+74951110002"}
    await ContactService(db).create(ContactCreate(name="Новый", phones=["+74951110002"]), system)
    assert await directory.fetch_missing() == {"+74951110002"}
    assert lookups.contact_for("+74951110002")["name"] == "Новый"  # type: ignore[index]
    # after the time to live, numbers are read again
    clock.now += 61
    assert lookups.contact_for("+79990000000") is None
    assert "+79990000000" in directory.missing
    assert await directory.fetch_missing() == set()  # still nobody's
    # a renamed user shows once the CRM's directory reloads
    await users.update(anna.id, anna.version, {"interfaces": ["PJSIP/101"]}, actor=system)
    clock.now += 11
    assert await directory.refresh_people()
    assert directory.login_for("Local/101@agents") is None


async def test_missed_calls_show_whether_the_callback_was_done(db: Database) -> None:
    r = reporting(db)
    users = UserService(db)
    boris = await users.create(login="boris", name="Борис", role="agent", password="password1")
    system = Actor.system()
    tasks = TaskService(db)
    at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC).timestamp()

    def missed(n: int) -> CallRecord:
        return CallRecord(
            linkedid=f"1795717000.{n}", direction=Direction.INBOUND,
            caller_number=f"+7495111000{n}", caller_name=None, called_number="100",
            queue="support", agent_interface=None, agent_name=None,
            started_at=at + n * 60, answered_at=None, ended_at=at + n * 60 + 30,
            wait_seconds=30.0, talk_seconds=0.0, disposition=Disposition.ABANDONED,
        )  # fmt: skip

    await r.calls.save([missed(1), missed(2), missed(3)])
    await r.rollups.catch_up()
    open_task = await tasks.create(
        TaskCreate(title="Перезвонить", call_linkedid="1795717000.1", assignee_id=boris.id),
        system,
    )
    done_task = await tasks.create(
        TaskCreate(title="Перезвонить", call_linkedid="1795717000.2", assignee_id=boris.id),
        system,
    )
    await tasks.update(
        done_task["id"], TaskUpdate(version=done_task["version"], status="done"), system
    )
    await tasks.create(  # another kind on call 1 does not hide its callback task
        TaskCreate(title="Встреча", kind="meeting", call_linkedid="1795717000.1"), system
    )
    found = await TasksOfCalls(db).for_calls(["1795717000.1", "1795717000.2", "x"])
    assert set(found) == {"1795717000.1", "1795717000.2"}
    assert (found["1795717000.1"].task_id, found["1795717000.1"].status) == (
        open_task["id"],
        "open",
    )
    done = found["1795717000.2"]
    assert (done.status, done.done_by) == ("done", "boris") and done.done_at is not None
    listing = await MissedCalls(db, r.config, TasksOfCalls(db)).list(
        ReportPeriod(datetime(2026, 11, 26).date(), datetime(2026, 11, 26).date())
    )
    by_call = {c["linkedid"]: c["callback_task"] for c in listing["calls"]}
    assert by_call["1795717000.3"] is None
    assert by_call["1795717000.1"]["status"] == "open"
    assert by_call["1795717000.2"]["status"] == "done"
    assert by_call["1795717000.2"]["done_by"] == "boris"
