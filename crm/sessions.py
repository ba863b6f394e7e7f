"""Server-side sign-in sessions and the sign-in throttle.

The browser's cookie holds a random token (`secrets.token_urlsafe(32)`); the table keeps
only its SHA-256, so a leaked database does not leak live sessions. A session expires
`ttl` after its last use (sliding, refreshed at most once a minute to keep reads cheap)
and at the latest `max_age` after sign-in.

`LoginThrottle` slows down failed sign-ins per (login, client address) with growing
delays and limits failures per address across logins (in this process; behind several
nodes each node counts its own). A stranger's failures never lock a user out.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from crm.database import Database
from crm.errors import RateLimited
from crm.models import User, WebSession
from crm.session_events import AgentSessionEvent, SessionEventKind

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(hours=12)
DEFAULT_MAX_AGE = timedelta(days=7)
_REFRESH_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionInfo:
    user_id: int
    expires_at: datetime


class SessionStore:
    def __init__(
        self, db: Database, *, ttl: timedelta = DEFAULT_TTL, max_age: timedelta = DEFAULT_MAX_AGE
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.max_age = max_age

    async def create(
        self, user_id: int, *, ip: str | None = None, user_agent: str | None = None
    ) -> str:
        """A new session for the user; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            session.add(
                WebSession(
                    token_hash=token_hash(token),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + self.ttl,
                    last_seen_at=now,
                    ip=(ip or None) and ip[:64],
                    user_agent=(user_agent or None) and user_agent[:255],
                )
            )
            session.add(
                AgentSessionEvent(at=now, kind=SessionEventKind.PANEL_SIGN_IN, user_id=user_id)
            )
        return token

    async def resolve(self, token: str | None) -> SessionInfo | None:
        """The live session for a cookie token (its user active), or None."""
        if not token or len(token) > 200:
            return None
        now = datetime.now(UTC)
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(WebSession, User.active)
                    .join(User, User.id == WebSession.user_id)
                    .where(WebSession.token_hash == token_hash(token))
                )
            ).first()
            if row is None:
                return None
            web_session, active = row
            if (
                not active
                or web_session.expires_at <= now
                or web_session.created_at + self.max_age <= now
            ):
                return None
            if now - web_session.last_seen_at >= _REFRESH_EVERY:
                web_session.last_seen_at = now
                web_session.expires_at = min(now + self.ttl, web_session.created_at + self.max_age)
                await session.commit()
            return SessionInfo(user_id=web_session.user_id, expires_at=web_session.expires_at)

    async def delete(self, token: str | None) -> None:
        if not token:
            return
        async with self.db.transaction() as session:
            user_id = await session.scalar(
                select(WebSession.user_id).where(WebSession.token_hash == token_hash(token))
            )
            if user_id is None:
                return
            await session.execute(
                delete(WebSession).where(WebSession.token_hash == token_hash(token))
            )
            session.add(
                AgentSessionEvent(
                    at=datetime.now(UTC), kind=SessionEventKind.PANEL_SIGN_OUT, user_id=user_id
                )
            )

    async def revoke_user(self, user_id: int) -> None:
        async with self.db.transaction() as session:
            result = await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
            if getattr(result, "rowcount", 0):  # signed out by a deactivation or new password
                session.add(
                    AgentSessionEvent(
                        at=datetime.now(UTC), kind=SessionEventKind.PANEL_SIGN_OUT, user_id=user_id
                    )
                )

    async def purge_expired(self) -> int:
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            result = await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
        return max(getattr(result, "rowcount", 0) or 0, 0)


async def purge_periodically(store: SessionStore, every: float = 3600.0) -> None:
    """Delete expired sessions now and then (started by the composition root)."""
    while True:
        await asyncio.sleep(every)
        try:
            removed = await store.purge_expired()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("purging expired sessions failed (will retry): %s", exc)
            continue
        if removed:
            log.info("purged %d expired session(s)", removed)


@dataclass(slots=True)
class _Window:
    hits: deque[float] = field(default_factory=deque)


@dataclass(slots=True)
class _Streak:
    """Failed sign-ins of one login from one address in a row."""

    failures: int = 0
    last: float = 0.0


class LoginThrottle:
    """Slows down password guessing without letting anyone lock a user out.

    - Per (login, address): the first `free` failures in a row cost nothing; after that
      each attempt must wait `base * 2**(failures - free)` seconds (capped at `cap`) after
      the last failure. The count is forgotten after a success from that address or
      `forget` s without a failure. Failures from one address never slow down the same
      login from another address, so a stranger cannot lock an agent out.
    - Per address, across logins: at most `per_ip` failures in `window` s (guessing many
      logins from one place).
    """

    def __init__(
        self,
        *,
        free: int = 3,
        base: float = 2.0,
        cap: float = 300.0,
        forget: float = 3600.0,
        per_ip: int = 20,
        window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.base = base
        self.cap = cap
        self.forget = forget
        self.per_ip = per_ip
        self.window = window
        self.clock = clock
        self._streaks: dict[tuple[str, str], _Streak] = {}
        self._ips: dict[str, _Window] = {}

    @staticmethod
    def _key(login: str, ip: str | None) -> tuple[str, str]:
        return (login.strip().lower(), ip or "")

    def delay(self, failures: int) -> float:
        """Seconds to wait after `failures` failures in a row (0 while still free)."""
        if failures < self.free:
            return 0.0
        return float(min(self.cap, self.base * 2 ** (failures - self.free)))

    def _streak(self, login: str, ip: str | None, now: float) -> _Streak | None:
        key = self._key(login, ip)
        streak = self._streaks.get(key)
        if streak is not None and now - streak.last >= self.forget:
            del self._streaks[key]
            return None
        return streak

    def _trim(self, ip: str, now: float) -> _Window:
        entry = self._ips.setdefault(ip, _Window())
        while entry.hits and entry.hits[0] <= now - self.window:
            entry.hits.popleft()
        return entry

    def check(self, login: str, ip: str | None) -> None:
        """Raise RateLimited (with `retry_after` seconds) when this login from this
        address must wait, or this address has failed too often lately."""
        now = self.clock()
        streak = self._streak(login, ip, now)
        if streak is not None:
            wait = streak.last + self.delay(streak.failures) - now
            if wait > 0:
                raise RateLimited(
                    "too many failed sign-in attempts; try again later",
                    retry_after=max(1, math.ceil(wait)),
                )
        if ip:
            entry = self._trim(ip, now)
            if len(entry.hits) >= self.per_ip:
                raise RateLimited(
                    "too many failed sign-in attempts from this address; try again later",
                    retry_after=max(1, math.ceil(entry.hits[0] + self.window - now)),
                )

    def failed(self, login: str, ip: str | None) -> None:
        now = self.clock()
        streak = self._streak(login, ip, now)
        if streak is None:
            streak = self._streaks[self._key(login, ip)] = _Streak()
        streak.failures += 1
        streak.last = now
        if ip:
            self._trim(ip, now).hits.append(now)
        if len(self._streaks) > 10_000 or len(self._ips) > 10_000:
            self._sweep(now)

    def succeeded(self, login: str, ip: str | None = None) -> None:
        self._streaks.pop(self._key(login, ip), None)

    def _sweep(self, now: float) -> None:
        for key in [k for k, s in self._streaks.items() if now - s.last >= self.forget]:
            del self._streaks[key]
        for ip in [
            k for k, w in self._ips.items() if not w.hits or w.hits[-1] <= now - self.window
        ]:
            del self._ips[ip]
