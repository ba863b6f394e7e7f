"""WebSocket fan-out: every connected browser gets a bounded send queue.

A message is serialized once and put on each recipient's queue without waiting; each
client has its own writer task that sends from its queue. A client whose queue is full
(a slow or dead browser) is dropped — its socket is closed — so it can never slow the
AMI reader or the other agents.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

SendText = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]

QUEUE_SIZE = 256
SEND_TIMEOUT = 10.0
# Application close codes (pages: 4401 → the sign-in form, 4429 → stay closed, others →
# connect again).
CLOSE_TOO_SLOW = 4008  # the client could not keep up
CLOSE_SIGNED_OUT = 4401  # the session ended: sign-out, deactivation, a new password
CLOSE_ACCESS_CHANGED = 4403  # the user's role changed: connect again for the new rights
CLOSE_SERVICE_RESTART = 1012  # the node is shutting down: the client reconnects (elsewhere)
CLOSE_TOO_MANY = 4429  # the session or the user opened more sockets than allowed


@dataclass(eq=False, slots=True)
class Client:
    """One connected socket of a signed-in user."""

    user_id: int
    role: str
    send_text: SendText
    close: Close
    session: str = ""  # the sign-in session the socket belongs to (its token's hash)
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    follow_all: bool = False  # supervisors' sockets follow everything
    dropped: bool = False
    sent: int = 0
    order: int = 0  # registration order: the oldest sockets go first past a cap

    def offer(self, text: str) -> bool:
        """Queue a message without waiting; False when the client is too slow (full)."""
        if self.dropped:
            return False
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True


class Relay(Protocol):
    """Where a hub also sends what it sends to users and followers: the other nodes of a
    cluster (`trubka.cluster`). The text is the message as the sockets get it."""

    def users(self, user_ids: Iterable[int], text: str) -> None: ...

    def followers(self, text: str, except_users: Iterable[int]) -> None: ...

    def close(self, kind: str, key: str | int, code: int, reason: str) -> None: ...


@dataclass(slots=True)
class HubStats:
    connected: int = 0
    messages: int = 0
    dropped_clients: int = 0


class Hub:
    def __init__(self, *, send_timeout: float = SEND_TIMEOUT) -> None:
        self.send_timeout = send_timeout
        self._by_user: dict[int, set[Client]] = {}
        self._followers: set[Client] = set()
        self._drops: set[asyncio.Task[None]] = set()
        self._registered = 0
        self.stats = HubStats()
        self.relay: Relay | None = None  # the other nodes (a cluster), else None

    # --- connections -----------------------------------------------------------------
    def register(self, client: Client) -> None:
        self._registered += 1
        client.order = self._registered
        self._by_user.setdefault(client.user_id, set()).add(client)
        if client.follow_all:
            self._followers.add(client)
        self.stats.connected += 1

    def unregister(self, client: Client) -> None:
        clients = self._by_user.get(client.user_id)
        if clients is not None and client in clients:
            clients.discard(client)
            if not clients:
                del self._by_user[client.user_id]
            self.stats.connected -= 1
        self._followers.discard(client)

    def admit(self, client: Client, *, per_session: int, per_user: int) -> None:
        """Register the client; past either cap, close the oldest sockets (`CLOSE_TOO_MANY`)."""
        self.register(client)
        mine = sorted(self._by_user.get(client.user_id, ()), key=lambda c: c.order)
        same_session = [c for c in mine if client.session and c.session == client.session]
        for old in same_session[: max(0, len(same_session) - per_session)]:
            self.end(old, CLOSE_TOO_MANY, "too many sockets for this session")
        mine = sorted(self._by_user.get(client.user_id, ()), key=lambda c: c.order)
        for old in mine[: max(0, len(mine) - per_user)]:
            self.end(old, CLOSE_TOO_MANY, "too many sockets for this user")

    def close_session(self, session: str, code: int, reason: str) -> int:
        """Close every socket of this sign-in session at once; returns how many."""
        if not session:
            return 0
        if self.relay is not None:
            self.relay.close("session", session, code, reason)
        return self.close_session_here(session, code, reason)

    def close_session_here(self, session: str, code: int, reason: str) -> int:
        """`close_session` on this node only (told by another node)."""
        ended = [c for cs in self._by_user.values() for c in cs if c.session == session]
        for client in ended:
            self.end(client, code, reason)
        return len(ended)

    def close_user(self, user_id: int, code: int, reason: str) -> int:
        """Close every socket of this user at once; returns how many."""
        if self.relay is not None:
            self.relay.close("user", user_id, code, reason)
        return self.close_user_here(user_id, code, reason)

    def close_user_here(self, user_id: int, code: int, reason: str) -> int:
        """`close_user` on this node only (told by another node)."""
        ended = list(self._by_user.get(user_id, ()))
        for client in ended:
            self.end(client, code, reason)
        return len(ended)

    async def drain(self, message: dict[str, Any], *, grace: float = 1.0) -> int:
        """Shutting down: send every socket `message` (`{"type": "reconnect"}`), give the
        messages up to `grace` seconds to go out, then close the sockets with 1012."""
        clients = [c for cs in self._by_user.values() for c in cs]
        text = encode(message)
        for client in clients:
            client.offer(text)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline and any(  # noqa: ASYNC110 - queues have no "empty" event
            not c.dropped and not c.queue.empty() for c in clients
        ):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0)  # the last message taken is written before the close frame
        for client in clients:
            self.end(client, CLOSE_SERVICE_RESTART, "this node is shutting down; reconnect")
        if self._drops:
            await asyncio.wait(set(self._drops), timeout=grace)
        return len(clients)

    def clients_of(self, user_id: int) -> set[Client]:
        return set(self._by_user.get(user_id, ()))

    @property
    def followers(self) -> set[Client]:
        return set(self._followers)

    def reaches(self, user_ids: Iterable[int]) -> bool:
        """True when one of these users has a socket here."""
        return any(user_id in self._by_user for user_id in user_ids)

    def connected_users(self) -> set[int]:
        return set(self._by_user)

    async def serve(self, client: Client) -> None:
        """Send the client's queue until it disconnects or is dropped (run per socket)."""
        try:
            while True:
                text = await client.queue.get()
                async with asyncio.timeout(self.send_timeout):
                    await client.send_text(text)
                client.sent += 1
        except TimeoutError:
            self._drop(client, "send timed out")

    # --- sending ---------------------------------------------------------------------
    def to_users(self, user_ids: Iterable[int], message: dict[str, Any]) -> int:
        """Send to every socket of these users (and not to followers). Returns sockets reached."""
        text = encode(message)
        users = set(user_ids)
        if self.relay is not None and users:
            self.relay.users(users, text)
        return self.to_users_text(users, text)

    def to_users_text(self, user_ids: Iterable[int], text: str) -> int:
        """Already serialized text to these users' sockets on this node only."""
        reached = 0
        for user_id in set(user_ids):
            for client in list(self._by_user.get(user_id, ())):
                reached += self._offer(client, text)
        return reached

    def to_followers(self, message: dict[str, Any], *, except_users: Iterable[int] = ()) -> int:
        text = encode(message)
        skip = set(except_users)
        if self.relay is not None:
            self.relay.followers(text, skip)
        return self.followers_text_here(text, skip)

    def followers_text_here(self, text: str, except_users: Iterable[int] = ()) -> int:
        """Already serialized text to the followers on this node only."""
        skip = set(except_users)
        return sum(self._offer(c, text) for c in list(self._followers) if c.user_id not in skip)

    def to_client(self, client: Client, message: dict[str, Any]) -> bool:
        return bool(self._offer(client, encode(message)))

    def follower_count(self) -> int:
        return len(self._followers)

    def to_followers_text(self, text: str) -> int:
        """Already serialized text to every follower (one encoding for all of them)."""
        if self.relay is not None:
            self.relay.followers(text, ())
        return sum(self._offer(c, text) for c in list(self._followers))

    def to_client_text(self, client: Client, text: str) -> bool:
        return bool(self._offer(client, text))

    def _offer(self, client: Client, text: str) -> int:
        self.stats.messages += 1
        if client.offer(text):
            return 1
        self._drop(client, "send queue full")
        return 0

    def _drop(self, client: Client, reason: str) -> None:
        if client.dropped:
            return
        self.stats.dropped_clients += 1
        log.warning("websocket of user %s dropped: %s", client.user_id, reason)
        self.end(client, CLOSE_TOO_SLOW, reason)

    def end(self, client: Client, code: int, reason: str) -> None:
        """Stop sending to the client and close its socket with `code` (in the background)."""
        if client.dropped:
            return
        client.dropped = True
        self.unregister(client)
        task = asyncio.get_running_loop().create_task(self._close(client, code, reason))
        self._drops.add(task)
        task.add_done_callback(self._drops.discard)

    async def _close(self, client: Client, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(2.0):
                await client.close(code, reason)
        except (TimeoutError, RuntimeError, OSError) as exc:
            log.debug("closing a dropped websocket failed: %s", exc)


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)
