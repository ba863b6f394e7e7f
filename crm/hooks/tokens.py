"""API tokens for other systems: created and revoked by an admin, shown once, stored hashed.

A token is `trk_` + 32 random bytes (URL-safe base64); the database keeps only its
sha256. It acts as the admin who created it (a deactivated creator stops it), limited
to its scopes (`web.tokens` maps every `/api/…` path to the scope it needs). Its last
use is written at most once a minute (`TOUCH_EVERY`).
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from crm.database import Database
from crm.errors import InvalidInput, NotFound
from crm.hooks.models import ApiToken
from crm.hooks.webhooks import iso

SCOPES: tuple[str, ...] = (
    "contacts:read",
    "contacts:write",
    "calls:read",
    "tasks",
    "deals",
    "webhooks",
    "leads",  # POST /api/inbound/leads (website forms, other systems)
)
PREFIX = "trk_"
TOUCH_EVERY = timedelta(seconds=60)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_json(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "scopes": list(row.scopes or []),
        "created_at": iso(row.created_at),
        "created_by_id": row.created_by_id,
        "last_used_at": iso(row.last_used_at),
        "revoked_at": iso(row.revoked_at),
    }


@dataclass(frozen=True, slots=True)
class TokenUse:
    """A valid token presented with a request."""

    id: int
    name: str
    scopes: frozenset[str]
    user_id: int  # the admin it acts as


class TokenService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._touched: dict[int, datetime] = {}

    async def create(
        self, name: str, scopes: builtins.list[str], created_by_id: int
    ) -> tuple[dict[str, Any], str]:
        """A new token: its view and the token itself (shown this once)."""
        name = name.strip()
        if not name or len(name) > 120:
            raise InvalidInput("the name must be 1 to 120 characters long", field="name")
        if not scopes:
            raise InvalidInput("choose at least one scope", field="scopes")
        for index, scope in enumerate(scopes):
            if scope not in SCOPES:
                raise InvalidInput("unknown scope", field=f"scopes.{index}")
        token = PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            name=name,
            scopes=list(dict.fromkeys(scopes)),
            token_hash=token_hash(token),
            created_at=datetime.now(UTC),
            created_by_id=created_by_id,
        )
        async with self.db.transaction() as session:
            session.add(row)
            await session.flush()
            return token_json(row), token

    async def list(self) -> builtins.list[dict[str, Any]]:
        async with self.db.session() as session:
            rows = (await session.scalars(select(ApiToken).order_by(ApiToken.id))).all()
            return [token_json(r) for r in rows]

    async def revoke(self, token_id: int) -> None:
        async with self.db.transaction() as session:
            row = await session.get(ApiToken, token_id)
            if row is None or row.revoked_at is not None:
                raise NotFound("no such token")
            row.revoked_at = datetime.now(UTC)
        self._touched.pop(token_id, None)

    async def resolve(self, token: str) -> TokenUse | None:
        """The token's use (its last use recorded, throttled), or None if unknown/revoked."""
        if not token.startswith(PREFIX):
            return None
        async with self.db.session() as session:
            row = await session.scalar(
                select(ApiToken).where(ApiToken.token_hash == token_hash(token))
            )
        if row is None or row.revoked_at is not None:
            return None
        now = datetime.now(UTC)
        last = self._touched.get(row.id) or row.last_used_at
        if last is None or now - last >= TOUCH_EVERY:
            self._touched[row.id] = now
            async with self.db.transaction() as session:
                await session.execute(
                    update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now)
                )
        return TokenUse(row.id, row.name, frozenset(row.scopes or ()), row.created_by_id)
