"""Queue memberships Trubka keeps: which user is in which queue with which penalty.

They are the `user_queues` rows (`UserService` sets a user's queues as a list; this
module adds one, changes its penalty or removes it). Asterisk is told through AMI by the
supervisor package's `QueueAdmin`, which also re-applies them after Asterisk restarts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from crm.database import Database
from crm.errors import AlreadyExists, InvalidInput, NotFound
from crm.models import User, UserQueue

MAX_PENALTY = 1000
MAX_QUEUE_NAME = 80


@dataclass(frozen=True, slots=True)
class QueueMember:
    user_id: int
    queue: str
    penalty: int


def check_queue_name(queue: str) -> str:
    value = queue.strip()
    if not value:
        raise InvalidInput("the queue name is empty", field="queue")
    if len(value) > MAX_QUEUE_NAME or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise InvalidInput(
            f"{queue!r} is not a queue name (at most {MAX_QUEUE_NAME} characters, no spaces)",
            field="queue",
        )
    return value


def check_penalty(penalty: int) -> int:
    if not 0 <= penalty <= MAX_PENALTY:
        raise InvalidInput(f"the penalty must be between 0 and {MAX_PENALTY}", field="penalty")
    return penalty


class QueueMemberStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, queue: str | None = None) -> list[QueueMember]:
        """Memberships of active users (of one queue, or all), by queue then user."""
        query = (
            select(UserQueue.user_id, UserQueue.queue, UserQueue.penalty)
            .join(User, User.id == UserQueue.user_id)
            .where(User.active.is_(True))
            .order_by(UserQueue.queue, UserQueue.user_id)
        )
        if queue is not None:
            query = query.where(UserQueue.queue == queue)
        async with self.db.session() as session:
            rows = await session.execute(query)
            return [QueueMember(uid, name, penalty) for uid, name, penalty in rows]

    async def get(self, queue: str, user_id: int) -> QueueMember | None:
        async with self.db.session() as session:
            row = await session.get(UserQueue, (user_id, queue))
            return None if row is None else QueueMember(user_id, queue, row.penalty)

    async def add(self, queue: str, user_id: int, penalty: int) -> QueueMember:
        queue = check_queue_name(queue)
        check_penalty(penalty)
        async with self.db.transaction() as session:
            if await session.get(User, user_id) is None:
                raise NotFound(f"user {user_id} not found")
            if await session.get(UserQueue, (user_id, queue)) is not None:
                raise AlreadyExists(f"the user is already in the queue {queue}", field="user_id")
            session.add(UserQueue(user_id=user_id, queue=queue, penalty=penalty))
        return QueueMember(user_id, queue, penalty)

    async def set_penalty(self, queue: str, user_id: int, penalty: int) -> QueueMember:
        check_penalty(penalty)
        async with self.db.transaction() as session:
            row = await session.get(UserQueue, (user_id, queue))
            if row is None:
                raise NotFound(f"the user is not in the queue {queue}")
            row.penalty = penalty
        return QueueMember(user_id, queue, penalty)

    async def remove(self, queue: str, user_id: int) -> None:
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(UserQueue).where(UserQueue.user_id == user_id, UserQueue.queue == queue)
            )
            if not getattr(result, "rowcount", 0):
                raise NotFound(f"the user is not in the queue {queue}")
