"""The stored wrap-ups an agent owes: one statement per answered call, a call owed once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from crm.after_call import AfterCallStore
from crm.database import Database
from crm.users import UserService
from tests.crm.kit_builders import call


async def test_a_wrap_up_is_owed_once_and_added_with_one_statement(db: Database) -> None:
    user = await UserService(db).create(
        login="ivan", name="Иван", role="agent", password="long password"
    )
    store = AfterCallStore(db)
    record = call("+79160000001")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        assert await store.add_pending(user.id, "local/101@agents", record) is True
        assert statements == ["INSERT"]  # no SELECT first: the unique key says "owed"
        assert await store.add_pending(user.id, "local/101@agents", record) is False
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    rows, total = await store.pending(user.id)
    assert total == 1
    assert [r["linkedid"] for r in rows] == [record.linkedid]


async def test_the_calls_ended_together_are_owed_in_one_statement(db: Database) -> None:
    users = UserService(db)
    ivan = await users.create(login="ivan", name="Иван", role="agent", password="long password")
    olga = await users.create(login="olga", name="Ольга", role="agent", password="long password")
    store = AfterCallStore(db)
    first, second, third = (call(f"+7916000000{n}") for n in (2, 3, 4))
    assert await store.add_pending(ivan.id, "local/101@agents", first) is True
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await store.add_pending_many(
            [
                (ivan.id, "local/101@agents", first),  # owed already: stays once
                (ivan.id, "local/101@agents", second),
                (olga.id, "local/102@agents", third),
            ]
        )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert statements.count("INSERT") == 1 and set(statements) == {"INSERT"}
    owed, total = await store.pending(ivan.id)
    assert total == 2 and {r["linkedid"] for r in owed} == {first.linkedid, second.linkedid}
    assert (await store.pending(olga.id))[1] == 1


async def test_one_bad_call_of_a_batch_loses_no_other_wrap_up(db: Database) -> None:
    """After-call work takes the calls that ended together; when their one INSERT fails
    (here: a user deleted since the directory was read), each call is stored alone."""
    import dataclasses

    from crm.after_call import WrapupLimits
    from crm.after_call_work import AfterCallWork
    from kernel.agents import agent_key
    from routing.facts import AgentRef
    from telephony.reducer import CallState

    ivan = await UserService(db).create(
        login="ivan", name="Иван", role="agent", password="long password"
    )
    refs = {
        "local/101@agents": AgentRef(ivan.id, "Иван", ("Local/101@agents/n",)),
        "local/199@agents": AgentRef(ivan.id + 1000, "Gone", ("Local/199@agents/n",)),
    }

    class Directory:
        async def by_interface(self, interface: str | None) -> AgentRef | None:
            return refs.get(agent_key(interface or ""))

    work = AfterCallWork(db, Directory(), CallState(), lambda: None, WrapupLimits(default=0))
    first, second = call("+79160000011"), call("+79160000012")
    gone = dataclasses.replace(call("+79160000013"), agent_interface="Local/199@agents/n")
    await work.calls_ended([first, gone, second])
    owed, total = await work.pending(ivan.id)
    assert total == 2 and {r["linkedid"] for r in owed} == {first.linkedid, second.linkedid}
