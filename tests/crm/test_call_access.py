"""Who sees which call: the rule in Python (`may_see`) and in SQL (`visible_clause`) agree,
on SQLite and PostgreSQL, including agents who only talked in a call (a transfer)."""

from __future__ import annotations

import time

import pytest

from crm.call_access import may_see
from crm.call_list import CallFilter, CallQuery
from crm.call_records import CallRow, CallStore
from crm.database import Database
from crm.errors import Forbidden
from crm.users import UserDirectory, UserService
from telephony.records import CallRecord, Direction, Disposition
from tests.crm.kit_builders import store_calls


def record(
    linkedid: str, agent: str | None, agents: tuple[str, ...], contact: int | None = None
) -> CallRecord:
    now = time.time() - 600
    return CallRecord(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        caller_number="+79160000009",
        caller_name=None,
        called_number=None,
        queue="support",
        agent_interface=agent,
        agent_name=None,
        started_at=now + float(linkedid.split(".")[1]),
        answered_at=now + 1 if agent else None,
        ended_at=now + 60,
        wait_seconds=1.0,
        talk_seconds=59.0 if agent else 0.0,
        disposition=Disposition.ANSWERED if agent else Disposition.ABANDONED,
        agents=agents,
        contact_id=contact,
    )


async def test_sql_and_python_rules_agree(db: Database) -> None:
    directory = UserDirectory(db)
    users = UserService(db, directory)
    people = {
        "a101": await users.create(
            login="a101", name="A101", role="agent", password="password1",
            interfaces=["Local/101@agents/n"],
        ),
        "a103": await users.create(
            login="a103", name="A103", role="agent", password="password1",
            interfaces=["PJSIP/103", "PJSIP/1_3"],
        ),
        "nobody": await users.create(
            login="nobody", name="Nobody", role="agent", password="password1"
        ),
        "sup": await users.create(login="sup", name="Sup", role="supervisor", password="password1"),
    }  # fmt: skip
    await store_calls(
        db,
        # 103 answered, then transferred to 105: 103 talked in it, 105 took it over
        record("1.1", "Local/105@agents/n", ("PJSIP/103", "Local/105@agents/n")),
        record("1.2", "LOCAL/101@AGENTS/n", ("LOCAL/101@AGENTS/n",)),  # case differs
        record("1.3", None, ()),  # abandoned, unknown caller
        record("1.4", "PJSIP/104", ("PJSIP/104",), contact=None),
        record("1.5", "PJSIP/1x3", ("PJSIP/1x3",)),  # `_` in PJSIP/1_3 is no wildcard
    )
    query = CallQuery(db, directory)
    rows = {row.linkedid: row for row in await _all_rows(db)}
    expected = {
        "a101": {"1.2"},
        "a103": {"1.1"},
        "nobody": set(),
        "sup": {"1.1", "1.2", "1.3", "1.4", "1.5"},
    }
    for login, user in people.items():
        listed = {c["linkedid"] for c in (await query.list(user, CallFilter()))["items"]}
        by_rule = {linkedid for linkedid, row in rows.items() if may_see(user, row)}
        assert listed == by_rule == expected[login], login
    with pytest.raises(Forbidden):
        await query.visible_row(people["a101"], rows["1.1"].id)
    detail = await query.get(people["a103"], rows["1.1"].id)
    assert detail["linkedid"] == "1.1" and detail["timeline"] == []


async def _all_rows(db: Database) -> list[CallRow]:
    return await CallStore(db).list()
