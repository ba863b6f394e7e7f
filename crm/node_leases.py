"""Leases in PostgreSQL: which node does a thing that only one node may do at a time.

One row per lease (`node_leases`: its name, e.g. `ami:default`, the holder, when it was
taken and until when it holds). A node claims a lease with ONE atomic statement, timed
by the database's clock (never the nodes' clocks):

    INSERT … ON CONFLICT (name) DO UPDATE SET holder = me, expires_at = now() + ttl
    WHERE node_leases.holder = me OR node_leases.expires_at < now() RETURNING holder

It returns a row when the caller holds the lease afterwards: it already held it (a
renewal), or the lease was free or had expired (a take-over). PostgreSQL runs concurrent
claims of one row one after the other and re-checks the `WHERE` on the newest row, so
two nodes never both get a row back. A holder that stops renewing (killed, frozen,
cut off) loses the lease `ttl` seconds after its last renewal, whatever state its TCP
connection is in.

The store keeps its own engine of one connection, so renewing never waits behind the
application's pool, with short connect and statement timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, UTCDateTime, create_engine


class NodeLeaseRow(Base):
    __tablename__ = "node_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    holder: str
    acquired_at: datetime
    expires_at: datetime
    expired: bool


_CLAIM = text(
    """
    INSERT INTO node_leases (name, holder, acquired_at, renewed_at, expires_at)
    VALUES (:name, :holder, now(), now(), now() + make_interval(secs => :ttl))
    ON CONFLICT (name) DO UPDATE SET
        holder = excluded.holder,
        acquired_at = CASE WHEN node_leases.holder = excluded.holder
                           THEN node_leases.acquired_at ELSE now() END,
        renewed_at = now(),
        expires_at = excluded.expires_at
    WHERE node_leases.holder = excluded.holder OR node_leases.expires_at < now()
    RETURNING holder
    """
)
_RELEASE = text(
    "UPDATE node_leases SET expires_at = now() - interval '1 second' "
    "WHERE name = :name AND holder = :holder"
)
_HOLDER = text(
    "SELECT holder, acquired_at, expires_at, expires_at < now() AS expired "
    "FROM node_leases WHERE name = :name"
)


class LeaseStore:
    """Claims, renews and releases leases (PostgreSQL only: SQLite is one node)."""

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self.url = url
        self.timeout = timeout
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(
                self.url,
                pool_size=1,
                max_overflow=0,
                pool_pre_ping=False,
                pool_timeout=self.timeout,
                connect_args={"timeout": self.timeout, "command_timeout": self.timeout},
            )
        return self._engine

    async def claim(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the lease; True when `holder` holds it now."""
        async with self.engine.begin() as conn:
            result = await conn.execute(_CLAIM, {"name": name, "holder": holder, "ttl": ttl})
            return result.first() is not None

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up at once (a clean stop): the next claim by anyone takes it."""
        async with self.engine.begin() as conn:
            await conn.execute(_RELEASE, {"name": name, "holder": holder})

    async def holder(self, name: str) -> LeaseHolder | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(_HOLDER, {"name": name})).first()
        if row is None:
            return None
        return LeaseHolder(row.holder, row.acquired_at, row.expires_at, bool(row.expired))

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
