"""Users: logins, roles, argon2 password hashes, dialable interfaces and queue memberships.

An agent's interfaces map AMI traffic to people: `calls.agent_interface` such as
`Local/101@agents/n` and a user's `PJSIP/101` or `Local/101@agents` are compared by
`kernel.agents.agent_key` (lower-cased, without the Local channel's trailing `/n`).
`UserDirectory` keeps that mapping in memory (it is read for every routing decision).
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Actor
from crm.database import Database
from crm.errors import AlreadyExists, InvalidInput, NotFound
from crm.models import Role, User, UserInterface, UserQueue
from crm.versioned import Entity
from kernel.agents import agent_key
from routing.facts import AgentRef

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
LANGUAGES = ("ru", "en")

USERS = Entity(User, "user", "this user was changed by someone else")

_hasher = PasswordHasher()


def use_fast_hashing() -> None:
    """Cheap argon2 parameters, for tests only (the defaults cost ~50 ms per hash)."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters",
            field="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password is longer than {MAX_PASSWORD_LENGTH} characters", field="password"
        )


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("not a real password, compared to keep timing even")
    return _DUMMY_HASH


def normalize_login(login: str) -> str:
    value = login.strip().lower()
    if not value:
        raise InvalidInput("the login is empty", field="login")
    if len(value) > 64:
        raise InvalidInput("the login is longer than 64 characters", field="login")
    if any(ch.isspace() for ch in value):
        raise InvalidInput("the login must not contain spaces", field="login")
    return value


def _check_interface(interface: str) -> str:
    value = interface.strip()
    if "/" not in value or len(value) > 128 or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise InvalidInput(
            f"{interface!r} is not a dialable interface (expected e.g. PJSIP/101 or "
            "Local/101@agents/n)",
            field="interfaces",
        )
    return value


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as the rest of the system sees it (no password hash)."""

    id: int
    login: str
    name: str
    role: Role
    language: str
    active: bool
    interfaces: tuple[str, ...]
    queues: tuple[str, ...]
    version: int
    # when they last signed in: not part of who the user is (equality ignores it)
    last_sign_in_at: datetime | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "login": self.login,
            "name": self.name,
            "role": self.role.value,
            "language": self.language,
            "active": self.active,
            "interfaces": list(self.interfaces),
            "queues": list(self.queues),
            "version": self.version,
        }

    @property
    def agent_ref(self) -> AgentRef:
        return AgentRef(user_id=self.id, name=self.name, interfaces=self.interfaces)


def _now() -> datetime:
    return datetime.now(UTC)


class UserService:
    def __init__(self, db: Database, directory: UserDirectory | None = None) -> None:
        self.db = db
        self.directory = directory

    async def create(
        self,
        *,
        login: str,
        name: str,
        role: Role | str,
        password: str,
        interfaces: Sequence[str] = (),
        queues: Sequence[str] = (),
        language: str = "ru",
        actor: Actor | None = None,
    ) -> UserInfo:
        if actor is not None:
            actor.require_admin("add users")
        login = normalize_login(login)
        name = name.strip()
        if not name:
            raise InvalidInput("the name is empty", field="name")
        role = _role(role)
        if language not in LANGUAGES:
            raise InvalidInput("language must be ru or en", field="language")
        checked = [_check_interface(i) for i in interfaces]
        password_hash = await asyncio.to_thread(hash_password, password)
        now = _now()
        try:
            async with self.db.transaction() as session:
                if await session.scalar(select(User.id).where(User.login == login)) is not None:
                    raise AlreadyExists(f"the login {login!r} is already taken", field="login")
                user = User(
                    login=login,
                    name=name,
                    role=role.value,
                    password_hash=password_hash,
                    language=language,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
                session.add(user)
                await session.flush()
                await self._set_interfaces(session, user.id, checked)
                await self._set_queues(session, user.id, queues)
        except IntegrityError as exc:
            raise AlreadyExists(
                f"the login {login!r} or one of the interfaces is already taken", field="login"
            ) from exc
        self._changed()
        return await self.get(user.id)

    async def _set_interfaces(
        self, session: AsyncSession, user_id: int, interfaces: Sequence[str]
    ) -> None:
        await session.execute(delete(UserInterface).where(UserInterface.user_id == user_id))
        seen: set[str] = set()
        for position, interface in enumerate(interfaces):
            key = agent_key(interface)
            if key in seen:
                continue
            seen.add(key)
            owner = await session.scalar(
                select(UserInterface.user_id).where(UserInterface.key == key)
            )
            if owner is not None:
                raise AlreadyExists(
                    f"the interface {interface} already belongs to another user", field="interfaces"
                )
            session.add(
                UserInterface(user_id=user_id, interface=interface, key=key, position=position)
            )
        await session.flush()

    async def _set_queues(self, session: AsyncSession, user_id: int, queues: Sequence[str]) -> None:
        """The user's queues become these; a queue they stay in keeps its penalty."""
        rows = await session.execute(
            select(UserQueue.queue, UserQueue.penalty).where(UserQueue.user_id == user_id)
        )
        penalties: dict[str, int] = {queue: penalty for queue, penalty in rows}
        await session.execute(delete(UserQueue).where(UserQueue.user_id == user_id))
        for queue in dict.fromkeys(q.strip() for q in queues if q.strip()):
            if len(queue) > 80:
                raise InvalidInput("a queue name is longer than 80 characters", field="queues")
            session.add(UserQueue(user_id=user_id, queue=queue, penalty=penalties.get(queue, 0)))
        await session.flush()

    async def get(self, user_id: int) -> UserInfo:
        infos = await self._infos(select(User).where(User.id == user_id))
        if not infos:
            raise NotFound(f"user {user_id} not found")
        return infos[0]

    async def get_by_login(self, login: str) -> UserInfo | None:
        infos = await self._infos(select(User).where(User.login == login.strip().lower()))
        return infos[0] if infos else None

    async def list(self, *, include_inactive: bool = True) -> builtins.list[UserInfo]:
        query = select(User).order_by(User.name, User.id)
        if not include_inactive:
            query = query.where(User.active.is_(True))
        return await self._infos(query)

    async def count(self) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count(User.id))) or 0)

    async def _infos(self, query: Any) -> builtins.list[UserInfo]:
        async with self.db.session() as session:
            users = list((await session.scalars(query)).all())
            if not users:
                return []
            ids = [u.id for u in users]
            interfaces: dict[int, list[str]] = {}
            rows = await session.execute(
                select(UserInterface.user_id, UserInterface.interface)
                .where(UserInterface.user_id.in_(ids))
                .order_by(UserInterface.position, UserInterface.id)
            )
            for uid, interface in rows:
                interfaces.setdefault(uid, []).append(interface)
            queues: dict[int, list[str]] = {}
            rows = await session.execute(
                select(UserQueue.user_id, UserQueue.queue)
                .where(UserQueue.user_id.in_(ids))
                .order_by(UserQueue.queue)
            )
            for uid, queue in rows:
                queues.setdefault(uid, []).append(queue)
        return [
            UserInfo(
                id=u.id,
                login=u.login,
                name=u.name,
                role=Role(u.role),
                language=u.language,
                active=u.active,
                interfaces=tuple(interfaces.get(u.id, ())),
                queues=tuple(queues.get(u.id, ())),
                version=u.version,
                last_sign_in_at=u.last_sign_in_at,
            )
            for u in users
        ]

    async def update(
        self,
        user_id: int,
        version: int,
        changes: dict[str, Any],
        *,
        actor: Actor,
        current_password: str | None = None,
    ) -> UserInfo:
        """Change a user (admin only, except a user's own name, language and password).

        Users changing their own password must give the current one (`current_password`),
        so a stolen session cannot take the account over; an admin resetting another
        user's password does not."""
        own_fields = {"name", "language", "password"}
        if not (actor.is_admin or (actor.user_id == user_id and set(changes) <= own_fields)):
            actor.require_admin("change other users")
        password_hash = None
        if changes.get("password") is not None:
            if actor.user_id == user_id:
                await self._require_current_password(user_id, current_password)
            password_hash = await asyncio.to_thread(hash_password, changes["password"])
        async with USERS.updating(self.db, user_id, version) as (session, user):
            if "name" in changes and changes["name"] is not None:
                name = changes["name"].strip()
                if not name:
                    raise InvalidInput("the name is empty", field="name")
                user.name = name
            if changes.get("role") is not None:
                user.role = _role(changes["role"]).value
            if changes.get("language") is not None:
                if changes["language"] not in LANGUAGES:
                    raise InvalidInput("language must be ru or en", field="language")
                user.language = changes["language"]
            if changes.get("active") is not None:
                user.active = bool(changes["active"])
            if password_hash is not None:
                user.password_hash = password_hash
            user.updated_at = _now()
            await session.flush()  # the user row first (one version step), then its lists
            if changes.get("interfaces") is not None:
                checked = [_check_interface(i) for i in changes["interfaces"]]
                await self._set_interfaces(session, user_id, checked)
            if changes.get("queues") is not None:
                await self._set_queues(session, user_id, changes["queues"])
        if changes.get("active") is False or password_hash is not None:
            from crm.sessions import SessionStore

            await SessionStore(self.db).revoke_user(user_id)
        self._changed()
        return await self.get(user_id)

    async def _require_current_password(self, user_id: int, password: str | None) -> None:
        if not password:
            raise InvalidInput(
                "enter your current password to set a new one", field="current_password"
            )
        async with self.db.session() as session:
            password_hash = await session.scalar(
                select(User.password_hash).where(User.id == user_id)
            )
        if password_hash is None:
            raise NotFound(f"user {user_id} not found")
        if not await asyncio.to_thread(verify_password, password_hash, password):
            raise InvalidInput("the current password is wrong", field="current_password")

    async def authenticate(self, login: str, password: str) -> UserInfo | None:
        """The active user with this login and password, or None (constant-ish time)."""
        async with self.db.session() as session:
            user = await session.scalar(select(User).where(User.login == login.strip().lower()))
        if user is None or not user.active:
            await asyncio.to_thread(verify_password, _dummy_hash(), password)
            return None
        if not await asyncio.to_thread(verify_password, user.password_hash, password):
            return None
        new_hash = None
        if _hasher.check_needs_rehash(user.password_hash):
            new_hash = await asyncio.to_thread(_hasher.hash, password)
        # Not a change of the user (no version step): when they last signed in.
        values: dict[str, Any] = {"last_sign_in_at": _now()}
        if new_hash is not None:
            values["password_hash"] = new_hash
        async with self.db.transaction() as session:
            await session.execute(
                update(User)
                .where(User.id == user.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return await self.get(user.id)

    def _changed(self) -> None:
        _user_names.clear()
        if self.directory is not None:
            self.directory.invalidate()


class _NameCache:
    """User names by id for the views (owner, author, assignee): users are few and their
    names rarely change, so a card need not ask the database for them every time.
    Entries live `ttl` seconds; this process's own changes clear it at once."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._names: dict[int, tuple[str, float]] = {}

    def clear(self) -> None:
        self._names.clear()

    async def get(self, session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
        now = time.monotonic()
        wanted = {i for i in ids if i is not None}
        found = {i: e[0] for i in wanted if (e := self._names.get(i)) is not None and e[1] > now}
        missing = wanted - found.keys()
        if missing:
            rows = await session.execute(select(User.id, User.name).where(User.id.in_(missing)))
            for uid, name in rows:
                found[uid] = name
                self._names[uid] = (name, now + self.ttl)
            if len(self._names) > 50_000:
                self._names.clear()
        return found


_user_names = _NameCache()


async def user_names(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    """Names of these users (cached for a few seconds; see `_NameCache`)."""
    return await _user_names.get(session, ids)


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError as exc:
        raise InvalidInput("role must be agent, supervisor or admin", field="role") from exc


class UserDirectory:
    """An in-memory map of interface keys and user ids to `AgentRef`s, refreshed on demand.

    Reloaded when older than `ttl` seconds (other nodes may change users) or right after
    this process changed a user (`invalidate`). Users are few (hundreds), so a reload is
    one small query. A user id not found is looked for again in a reload (at most one
    every `miss_ttl` seconds): a user added on another node a moment ago (the rules run
    on a `workers` node while users are added on the web node) is found at once.
    """

    miss_ttl = 1.0

    def __init__(self, db: Database, *, ttl: float = 10.0) -> None:
        self.db = db
        self.ttl = ttl
        self._loaded_at = float("-inf")
        self._by_key: dict[str, AgentRef] = {}
        self._by_id: dict[int, AgentRef] = {}
        self._lock = asyncio.Lock()
        self.listeners: builtins.list[Callable[[], None]] = []  # told when users change

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")
        for listener in self.listeners:
            listener()

    async def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.ttl:
            return
        async with self._lock:
            if time.monotonic() - self._loaded_at < self.ttl:
                return
            self._by_key, self._by_id = await self._load()
            self._loaded_at = time.monotonic()

    async def _load(self) -> tuple[dict[str, AgentRef], dict[int, AgentRef]]:
        """The active users' refs, read in one statement of plain rows.

        This runs every `ttl` seconds on every node, and the ORM's whole user (every
        column, the queues, an `IN` of every id twice) cost some 25 ms of the event loop
        at 1,000 users — every pop waiting behind it; rows of the three columns a ref
        needs cost a fraction."""
        query = (
            select(User.id, User.name, UserInterface.interface)
            .outerjoin(UserInterface, UserInterface.user_id == User.id)
            .where(User.active.is_(True))
            .order_by(User.name, User.id, UserInterface.position, UserInterface.id)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        names: dict[int, str] = {}
        interfaces: dict[int, list[str]] = {}
        for user_id, name, interface in rows:
            names[user_id] = name
            mine = interfaces.setdefault(user_id, [])
            if interface is not None:
                mine.append(interface)
        by_key: dict[str, AgentRef] = {}
        by_id: dict[int, AgentRef] = {}
        for user_id, name in names.items():  # by name, then id, as the users list
            ref = AgentRef(user_id=user_id, name=name, interfaces=tuple(interfaces[user_id]))
            by_id[user_id] = ref
            for interface in ref.interfaces:
                by_key[agent_key(interface)] = ref
        return by_key, by_id

    async def by_interface(self, interface: str | None) -> AgentRef | None:
        if not interface:
            return None
        await self._fresh()
        return self._by_key.get(agent_key(interface))

    async def by_id(self, user_id: int | None) -> AgentRef | None:
        if user_id is None:
            return None
        await self._fresh()
        ref = self._by_id.get(user_id)
        if ref is None and time.monotonic() - self._loaded_at >= self.miss_ttl:
            self._loaded_at = float("-inf")  # perhaps added on another node since
            await self._fresh()
            ref = self._by_id.get(user_id)
        return ref

    async def snapshot(self) -> tuple[dict[str, AgentRef], dict[int, AgentRef]]:
        """Both maps at once (callers that resolve many rows)."""
        await self._fresh()
        return self._by_key, self._by_id
