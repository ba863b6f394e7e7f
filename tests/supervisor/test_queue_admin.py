"""Queue memberships and user changes as the administration makes them, without a PBX
or with a recording fake: what is stored, what is sent, what is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.database import Database
from crm.errors import AlreadyExists, InvalidInput
from crm.queue_members import QueueMemberStore
from crm.users import UserService
from supervisor.audit import Actor, AuditLog
from supervisor.errors import ReportParameterError
from supervisor.people import People
from supervisor.queue_admin import QueueAdmin
from telephony.errors import ActionFailed

ADMIN = Actor(user_id=None, login="boss", name="Boss", role="admin")


class FakePbx:
    """Records the AMI actions; answers GetConfig with `config` (or refuses it)."""

    def __init__(self, config: dict[str, dict[str, str]] | None = None) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.config = config

    async def queue_add(self, queue: str, interface: str, **kw: Any) -> str:
        self.sent.append(("QueueAdd", queue, interface, kw["penalty"]))
        return "Added interface to queue"

    async def queue_penalty(self, queue: str, interface: str, penalty: int) -> str:
        self.sent.append(("QueuePenalty", queue, interface, penalty))
        return "Interface penalty set successfully"

    async def queue_remove(self, queue: str, interface: str) -> str:
        self.sent.append(("QueueRemove", queue, interface))
        return "Removed interface from queue"

    async def get_config(self, filename: str, category: str | None = None) -> Any:
        if self.config is None:
            raise ActionFailed("GetConfig", "Permission denied")
        return self.config


def _parts(db: Database, pbx: FakePbx | None) -> tuple[People, QueueAdmin, AuditLog]:
    users = UserService(db)
    audit = AuditLog(db)
    admin = QueueAdmin(QueueMemberStore(db), users, audit, None, lambda: pbx)  # type: ignore[arg-type,return-value]
    return People(users, audit, admin), admin, audit


async def test_without_asterisk_a_change_is_saved_with_a_warning(db: Database) -> None:
    people, admin, audit = _parts(db, None)
    anna, _applied = await people.create(
        ADMIN, login="anna", name="Anna", role="agent", password="long password",
        interfaces=["PJSIP/101"],
    )  # fmt: skip
    result = await admin.add(ADMIN, "support", anna.id, 3)
    assert result.applied is False and result.warning and "saved" in result.warning
    assert [(m.queue, m.penalty) for m in await admin.store.list()] == [("support", 3)]
    with pytest.raises(AlreadyExists):
        await admin.add(ADMIN, "support", anna.id, 1)
    with pytest.raises(InvalidInput) as bad:
        await admin.add(ADMIN, "support", anna.id, -1)
    assert bad.value.field == "penalty"
    nophone, _ = await people.create(
        ADMIN, login="nophone", name="No Phone", role="agent", password="long password"
    )
    with pytest.raises(InvalidInput) as no_phone:
        await admin.add(ADMIN, "support", nophone.id, 0)
    assert no_phone.value.field == "user_id"
    assert await admin.detect_persistent_members() is None
    log = await audit.list(kind="admin")
    assert [e["action"] for e in log["entries"]] == ["user_create", "member_add", "user_create"]


async def test_a_new_phone_or_a_disabled_user_is_told_to_asterisk(db: Database) -> None:
    pbx = FakePbx({"general": {"persistentmembers": "yes"}})
    people, admin, audit = _parts(db, pbx)
    anna, _ = await people.create(
        ADMIN, login="anna", name="Anna", role="agent", password="long password",
        interfaces=["PJSIP/101"], queues=["sales"],
    )  # fmt: skip
    assert pbx.sent == [("QueueAdd", "sales", "PJSIP/101", 0)]
    await admin.set_penalty(ADMIN, "sales", anna.id, 4)
    assert pbx.sent[-1] == ("QueueAdd", "sales", "PJSIP/101", 4)  # not live yet: added
    pbx.sent.clear()
    anna = await people.users.get(anna.id)
    anna, _ = await people.update(ADMIN, anna.id, anna.version, {"interfaces": ["PJSIP/111"]})
    assert pbx.sent == [
        ("QueueRemove", "sales", "PJSIP/101"),
        ("QueueAdd", "sales", "PJSIP/111", 4),  # the penalty stays with the membership
    ]
    pbx.sent.clear()
    anna, _ = await people.update(ADMIN, anna.id, anna.version, {"active": False})
    assert pbx.sent == [("QueueRemove", "sales", "PJSIP/111")]
    report = await admin.reapply()
    assert report.persistent_members is True
    assert pbx.sent == [("QueueRemove", "sales", "PJSIP/111")]  # a disabled user is not re-added
    _user, password = await people.reset_password(ADMIN, anna.id)
    assert len(password) == 12
    assert await people.users.authenticate("anna", password) is None  # still disabled
    log = await audit.list(kind="admin", target=f"user:{anna.id}")
    assert [e["action"] for e in log["entries"]] == [
        "user_password",
        "user_disable",
        "user_update",
        "member_penalty",
        "user_create",
    ]
    assert log["entries"][0]["after"] == {"password": "changed"}
    assert log["entries"][2]["before"] == {"interfaces": ["PJSIP/101"]}


async def test_audit_filters(db: Database) -> None:
    people, _admin, audit = _parts(db, None)
    anna, _ = await people.create(
        ADMIN, login="anna", name="Anna", role="agent", password="long password"
    )
    now = datetime.now(UTC)
    assert (await audit.list(kind="admin", since=now - timedelta(minutes=1)))["total"] == 1
    assert (await audit.list(kind="admin", until=now - timedelta(minutes=1)))["total"] == 0
    assert (await audit.list(kind="supervisor"))["total"] == 0
    assert (await audit.list(target="user:1%"))["total"] == 0  # no wildcards from the filter
    assert (await audit.list(target=f"user:{anna.id}", action="user_create"))["total"] == 1
    with pytest.raises(ReportParameterError):
        await audit.list(kind="everything")
