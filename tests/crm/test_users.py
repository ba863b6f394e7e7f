"""Users, interfaces, the directory, sessions and the sign-in throttle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from crm.access import Actor
from crm.database import Database
from crm.errors import AlreadyExists, Conflict, Forbidden, InvalidInput, RateLimited
from crm.models import Role
from crm.sessions import LoginThrottle, SessionStore
from crm.users import UserDirectory, UserService
from kernel.agents import agent_key


def test_interface_keys() -> None:
    assert agent_key("Local/101@agents/n") == "local/101@agents"
    assert agent_key("Local/101@agents") == "local/101@agents"
    assert agent_key(" PJSIP/101 ") == "pjsip/101"


async def test_create_authenticate_and_refuse(db: Database) -> None:
    users = UserService(db)
    ivan = await users.create(
        login=" Ivan ",
        name="Иван Петров",
        role="agent",
        password="long password",
        interfaces=["PJSIP/101", "Local/101@agents/n"],
        queues=["support", "sales", "support"],
        language="en",
    )
    assert (ivan.login, ivan.role, ivan.language) == ("ivan", Role.AGENT, "en")
    assert ivan.interfaces == ("PJSIP/101", "Local/101@agents/n")
    assert ivan.queues == ("sales", "support")
    assert (await users.authenticate("IVAN", "long password")) == ivan
    assert await users.authenticate("ivan", "wrong password") is None
    assert await users.authenticate("nobody", "long password") is None
    with pytest.raises(AlreadyExists) as taken:
        await users.create(login="ivan", name="X", role="agent", password="long password")
    assert taken.value.field == "login"
    with pytest.raises(InvalidInput) as short:
        await users.create(login="p", name="X", role="agent", password="short")
    assert short.value.field == "password"
    with pytest.raises(AlreadyExists) as clash:
        await users.create(
            login="p",
            name="X",
            role="agent",
            password="long password",
            interfaces=["Local/101@agents"],
        )
    assert clash.value.field == "interfaces"
    with pytest.raises(InvalidInput):
        await users.create(login="q", name="X", role="boss", password="long password")
    with pytest.raises(InvalidInput):
        await users.create(
            login="q", name="X", role="agent", password="long password", interfaces=["101"]
        )


async def test_update_rules_and_directory(db: Database) -> None:
    directory = UserDirectory(db)
    users = UserService(db, directory)
    admin = await users.create(login="root", name="Root", role="admin", password="long password")
    agent = await users.create(
        login="a", name="A", role="agent", password="long password", interfaces=["PJSIP/102"]
    )
    assert (await directory.by_interface("pjsip/102")) is not None
    me = Actor(agent.id, Role.AGENT)
    renamed = await users.update(agent.id, agent.version, {"name": "Агент"}, actor=me)
    assert renamed.name == "Агент" and renamed.version == agent.version + 1
    with pytest.raises(Forbidden):
        await users.update(agent.id, renamed.version, {"role": "admin"}, actor=me)
    with pytest.raises(Conflict):
        await users.update(
            agent.id, agent.version, {"name": "stale"}, actor=Actor(admin.id, Role.ADMIN)
        )
    moved = await users.update(
        agent.id,
        renamed.version,
        {"interfaces": ["Local/102@agents/n"]},
        actor=Actor(admin.id, Role.ADMIN),
    )
    assert moved.interfaces == ("Local/102@agents/n",)
    ref = await directory.by_interface("Local/102@agents/n")
    assert ref is not None and ref.name == "Агент"
    assert await directory.by_interface("PJSIP/102") is None


async def test_the_directory_reloads_active_users_in_one_statement(db: Database) -> None:
    """It reloads every `ttl` seconds on every node: one statement of plain rows, not the
    ORM's users with an `IN` of every id (a pause of the event loop at 1,000 users)."""
    users = UserService(db)
    two = await users.create(
        login="b",
        name="B",
        role="agent",
        password="long password",
        interfaces=["PJSIP/2", "Local/7@agents/n"],
    )
    one = await users.create(login="a", name="A", role="agent", password="long password")
    gone = await users.create(
        login="c", name="C", role="agent", password="long password", interfaces=["PJSIP/3"]
    )
    root = Actor(one.id, Role.ADMIN)
    await users.update(gone.id, gone.version, {"active": False}, actor=root)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        statements.append(sql)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        by_key, by_id = await UserDirectory(db, ttl=0).snapshot()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert set(by_id) == {one.id, two.id}  # the inactive user is left out
    assert by_id[one.id].interfaces == () and by_id[two.id].interfaces == (
        "PJSIP/2",
        "Local/7@agents/n",
    )
    assert by_key[agent_key("pjsip/2")] is by_id[two.id] is by_key[agent_key("Local/7@agents/n")]
    assert agent_key("PJSIP/3") not in by_key


async def test_sessions_expire_and_are_revoked(db: Database) -> None:
    users = UserService(db)
    user = await users.create(login="s", name="S", role="agent", password="long password")
    store = SessionStore(db)
    token = await store.create(user.id, ip="127.0.0.1", user_agent="test")
    info = await store.resolve(token)
    assert info is not None and info.user_id == user.id
    assert await store.resolve("not a token") is None
    expired = SessionStore(db, ttl=timedelta(seconds=-1))
    old = await expired.create(user.id)
    assert await store.resolve(old) is None
    assert await store.purge_expired() == 1
    await store.revoke_user(user.id)
    assert await store.resolve(token) is None


def test_throttle_grows_per_login_and_address_and_limits_an_address() -> None:
    now = [1000.0]
    throttle = LoginThrottle(free=3, base=2, cap=60, per_ip=8, window=60, clock=lambda: now[0])
    for _ in range(3):  # the first failures in a row are free
        throttle.check("ivan", "10.0.0.1")
        throttle.failed("ivan", "10.0.0.1")
    with pytest.raises(RateLimited) as limited:
        throttle.check("IVAN", "10.0.0.1")
    assert limited.value.retry_after == 2
    throttle.check("ivan", "10.0.0.2")  # the same login from elsewhere is not held up
    waits = []
    for _ in range(5):  # each further failure doubles the wait, up to the cap
        with pytest.raises(RateLimited) as limited:
            throttle.check("ivan", "10.0.0.1")
        waits.append(limited.value.retry_after)
        now[0] += limited.value.retry_after
        throttle.check("ivan", "10.0.0.1")
        throttle.failed("ivan", "10.0.0.1")
    assert waits == [2, 4, 8, 16, 32]
    with pytest.raises(RateLimited) as limited:
        throttle.check("ivan", "10.0.0.1")
    assert limited.value.retry_after == 60  # capped
    throttle.succeeded("ivan", "10.0.0.1")  # the right password from there: forgotten
    throttle.check("ivan", "10.0.0.1")
    # one address guessing many logins: the per-address limit
    for login in ("a", "b", "c", "d", "e", "f", "g", "h"):
        throttle.check(login, "10.0.0.9")
        throttle.failed(login, "10.0.0.9")
    with pytest.raises(RateLimited, match="address"):
        throttle.check("olga", "10.0.0.9")
    throttle.check("olga", "10.0.0.8")
    now[0] += 61
    throttle.check("olga", "10.0.0.9")
    throttle.failed("vera", None)
    throttle.succeeded("vera")
    throttle.check("vera", None)
