"""Panel notices (migration 0021_notices): what a rule's `notify` action tells a user,
stored in the transaction of the rule's other actions (`crm.rules.actions`), so a notice
is neither lost by a restart after the commit nor missed by a user who was offline.

- `notices`: one row per notice — the user, the text, the rule (id and name at the
  time), the event (`rule_events.id` and its `uid`), the action's index, the contact,
  `created_at` and `read_at` (NULL while unread). (`rule_id`, `event_uid`,
  `action_index`) is unique: the action's key makes the notice stored once, the index
  backs it up.
- `NoticeService`: a user's own notices (newest first, the unread ones on request),
  marked read one by one or all at once; another user's notice is "not found".

The live push after the commit stays the WebSocket message `rule_notice`
(docs/architecture.md), with the notice's `id`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, Database, UTCDateTime
from crm.errors import NotFound

MAX_TEXT = 2000
LIST_LIMIT = 200


class Notice(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    rule_id: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(200), default="")
    event_id: Mapped[int | None] = mapped_column(Integer)  # rule_events.id (purged later)
    event_uid: Mapped[str | None] = mapped_column(String(36))
    action_index: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(40), default="")
    contact_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_notices_user_read", "user_id", "read_at", "id"),
        Index("uq_notices_action", "rule_id", "event_uid", "action_index", unique=True),
    )


def notice_view(row: Notice) -> dict[str, Any]:
    return {
        "id": row.id,
        "text": row.text,
        "rule_id": row.rule_id,
        "rule": row.rule,
        "event": row.event,
        "contact_id": row.contact_id,
        "created_at": row.created_at,
        "read_at": row.read_at,
    }


def _now() -> datetime:
    return datetime.now(UTC)


class NoticeService:
    """A user's notices: only their own (`NotFound` for anyone else's)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self, user_id: int, *, unread: bool = False, limit: int = LIST_LIMIT
    ) -> dict[str, Any]:
        async with self.db.session() as session:
            query = select(Notice).where(Notice.user_id == user_id)
            if unread:
                query = query.where(Notice.read_at.is_(None))
            rows = (await session.scalars(query.order_by(Notice.id.desc()).limit(limit))).all()
            count = await session.scalar(
                select(func.count())
                .select_from(Notice)
                .where(Notice.user_id == user_id, Notice.read_at.is_(None))
            )
            return {"items": [notice_view(r) for r in rows], "unread": int(count or 0)}

    async def read(self, user_id: int, notice_id: int) -> dict[str, Any]:
        """Mark the user's notice read (once: a second time keeps the first time)."""
        async with self.db.transaction() as session:
            row = await session.get(Notice, notice_id)
            if row is None or row.user_id != user_id:
                raise NotFound("no such notice")
            if row.read_at is None:
                row.read_at = _now()
                await session.flush()
            return notice_view(row)

    async def read_all(self, user_id: int) -> int:
        """Mark every unread notice of the user read; how many were."""
        async with self.db.transaction() as session:
            done = await session.execute(
                update(Notice)
                .where(Notice.user_id == user_id, Notice.read_at.is_(None))
                .values(read_at=_now())
            )
            return int(getattr(done, "rowcount", 0) or 0)
