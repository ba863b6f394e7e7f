"""The AMI client against the simulated PBX over real TCP: login, keep-alive, reconnect
with backoff, resync after an Asterisk restart, actions and their failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable

import pytest

from telephony.ami_client import AmiClient, AmiConfig, LinkState
from telephony.codec import EncodeError, Frame, FrameKind
from telephony.domain import CallEnded, DomainEvent
from telephony.errors import ActionFailed, ActionTimeout, NotConnected
from telephony.events import AmiEvent
from telephony.pipeline import EventPipeline
from telephony.records import CallRecord
from telephony.reducer import Resync
from telephony.simpbx import SimPbx
from tests.telephony.kit_sim import SECRET, USER, running


def config_for(pbx: SimPbx, **overrides: object) -> AmiConfig:
    values: dict[str, object] = {
        "port": pbx.port,
        "username": USER,
        "secret": SECRET,
        "ping_interval": 5.0,
        "action_timeout": 2.0,
        "connect_timeout": 1.0,
        "backoff_initial": 0.02,
        "backoff_max": 0.1,
    }
    values.update(overrides)
    return AmiConfig(**values)  # type: ignore[arg-type]


class Collected:
    def __init__(self) -> None:
        self.events: list[DomainEvent] = []
        self.changed = asyncio.Event()

    def __call__(self, events: object) -> None:
        self.events.extend(events)  # type: ignore[arg-type]
        self.changed.set()

    @property
    def records(self) -> list[CallRecord]:
        return [e.record for e in self.events if isinstance(e, CallEnded)]


@contextlib.asynccontextmanager
async def client_for(
    pbx: SimPbx, publish: Collected | None = None, **overrides: object
) -> AsyncIterator[AmiClient]:
    client = AmiClient(config_for(pbx, **overrides), EventPipeline(), publish, rng=random.Random(3))
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def eventually(
    condition: Callable[[], bool], timeout: float = 5.0, step: float = 0.01
) -> None:
    """Poll a condition nothing signals (a counter in a status object)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - nothing to await: a counter in a status
            await asyncio.sleep(step)


async def test_login_resync_and_status() -> None:
    async with running() as pbx, client_for(pbx) as client:
        await client.wait_connected(5)
        status = client.status_json()
        assert status["state"] == "connected"
        assert status["banner"] == "Asterisk Call Manager/11.0.0"
        assert status["asterisk_version"] == "22.10.1"
        assert status["connects"] == 1 and status["reconnects"] == 0
        agents = client.pipeline.state.agents
        assert set(agents) == {f"Local/{n}@agents" for n in range(101, 106)}
        assert set(agents["Local/103@agents"].memberships) == {"support", "sales"}
        assert agents["Local/101@agents"].name == "Анна Смирнова"


class WatchedPipeline(EventPipeline):
    """The pipeline, noting what the client hands it."""

    def __init__(self) -> None:
        super().__init__()
        self.fed: list[Frame] = []
        self.applied: list[AmiEvent | Resync] = []

    def feed_frames(self, frames: list[Frame], at: float) -> list[DomainEvent]:
        self.fed.extend(f for f in frames if f.kind is FrameKind.BANNER)  # others: below
        return super().feed_frames(frames, at)

    def apply_frame(self, frame: Frame, at: float) -> list[DomainEvent]:
        self.fed.append(frame)
        return super().apply_frame(frame, at)

    def apply(self, event: AmiEvent | Resync, at: float) -> list[DomainEvent]:
        self.applied.append(event)
        return super().apply(event, at)


async def test_replies_stay_in_the_client_and_the_resync_goes_through_the_pipeline() -> None:
    pipeline = WatchedPipeline()
    async with running() as pbx:
        client = AmiClient(config_for(pbx), pipeline, rng=random.Random(3))
        await client.start()
        try:
            await client.wait_connected(5)
            assert (await client.send_action("Ping")).get("ping") == "Pong"
            assert (await client.send_list("QueueStatus")).items
        finally:
            await client.stop()
    (resync,) = pipeline.applied
    assert isinstance(resync, Resync) and resync.members
    assert set(pipeline.state.agents) == {f"Local/{n}@agents" for n in range(101, 106)}
    assert [f.kind for f in pipeline.fed][:1] == [FrameKind.BANNER]
    events = pipeline.fed[1:]
    assert events and all(f.kind is FrameKind.EVENT for f in events)
    assert not [f for f in events if (f.action_id or "").startswith("trubka-")]


async def test_wrong_secret_is_logged_once_and_retried_with_capped_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="telephony.ami_client")
    async with running() as pbx:
        started = time.monotonic()
        async with client_for(
            pbx, secret="not-the-secret", backoff_initial=0.01, backoff_max=0.04
        ) as client:
            await eventually(lambda: client.status.attempts >= 6)
            elapsed = time.monotonic() - started
            assert not client.connected
            assert client.status.state in (
                LinkState.WAITING,
                LinkState.CONNECTING,
                LinkState.LOGGING_IN,
            )
            delays = list(client.status.backoffs)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        message = errors[0].getMessage()
        assert f"login as 'trubka' on 127.0.0.1:{pbx.port} failed: Authentication failed" in message
        assert "TRUBKA_AMI_SECRET" in message
        assert all("not-the-secret" not in r.getMessage() for r in caplog.records)
        assert len(delays) >= 5
        assert all(0.04 * 0.5 <= d <= 0.04 for d in delays[2:]), delays  # capped, jittered
        assert len(set(delays)) == len(delays)  # jitter: no two alike
        assert elapsed >= sum(delays[:5])  # it really waited: no tight loop


def test_backoff_is_capped_exponential_with_jitter() -> None:
    config = AmiConfig(backoff_initial=0.5, backoff_max=30.0, backoff_factor=2.0, jitter=0.5)
    client = AmiClient(config, EventPipeline(), rng=random.Random(1))
    for attempt in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        delays = [client.backoff_delay(attempt) for _ in range(50)]
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling * 0.2  # really jittered


async def test_a_silent_pbx_is_detected_within_two_ping_intervals() -> None:
    interval = 0.5
    async with (
        running() as pbx,
        client_for(pbx, ping_interval=interval, action_timeout=0.5) as client,
    ):
        await client.wait_connected(5)
        await eventually(lambda: client.status.last_ping_rtt is not None, timeout=3)
        pbx.stall()
        stalled = time.monotonic()
        await eventually(
            lambda: client.status.state is not LinkState.CONNECTED, timeout=3, step=0.005
        )
        detected = time.monotonic() - stalled
        assert detected < 2 * interval, detected
        assert client.status.ping_failures == 1
        assert client.status.last_error is not None and "Ping" in client.status.last_error
        pbx.resume()
        await eventually(lambda: client.status.connects == 2, timeout=5)
        assert client.status.reconnects == 1


async def test_reconnects_with_backoff_while_the_pbx_is_down() -> None:
    async with running() as pbx, client_for(pbx) as client:
        await client.wait_connected(5)
        await pbx.kill()
        await eventually(lambda: client.status.attempts >= 4)
        assert not client.connected
        assert client.status.last_error == "connection refused"
        with pytest.raises(NotConnected):
            await client.send_action("Ping")
        await pbx.restart()
        await client.wait_connected(5)
        assert client.status.reconnects == 1
        assert max(client.status.backoffs) <= 0.1


async def test_shutdown_event_makes_the_client_reconnect() -> None:
    async with running() as pbx, client_for(pbx) as client:
        await client.wait_connected(5)
        await pbx.shutdown()
        await eventually(lambda: client.status.connects == 2)
        assert client.connected


async def test_actions_replies_lists_errors_and_timeouts() -> None:
    async with running() as pbx, client_for(pbx, action_timeout=0.3) as client:
        await client.wait_connected(5)
        pong = await client.send_action("Ping")
        assert pong.get("ping") == "Pong"
        result = await client.send_list("QueueStatus", {"Queue": "support"})
        assert result.response.get("eventlist") == "start"
        assert [f.name for f in result.items] == [
            "QueueParams",
            "QueueMember",
            "QueueMember",
            "QueueMember",
        ]
        assert all(f.action_id == result.response.action_id for f in result.items)
        empty = await client.send_list("ExtensionStateList")
        assert empty.items == ()
        with pytest.raises(ActionFailed) as failed:
            await client.send_action(
                "QueuePause", {"Interface": "Local/199@agents/n", "Paused": "true"}
            )
        assert failed.value.message == "Interface not found"
        with pytest.raises(ActionFailed, match="Invalid/unknown command: NoSuchThing"):
            await client.send_action("NoSuchThing")
        with pytest.raises(EncodeError):
            await client.send_action("Setvar", {"Variable": "X", "Value": "a\r\nAction: Hangup"})
        assert "X" not in pbx.engine.global_vars
        pbx.stall()
        with pytest.raises(ActionTimeout):
            await client.send_action("Ping", timeout=0.1)
        pbx.resume()
        assert (await client.send_action("Ping")).get(
            "ping"
        ) == "Pong"  # a late reply is not mistaken
    client = AmiClient(AmiConfig(), EventPipeline())
    with pytest.raises(NotConnected):
        await client.send_action("Ping")


async def test_md5_challenge_login() -> None:
    async with running() as pbx, client_for(pbx, md5_login=True) as client:
        await client.wait_connected(5)
        assert client.status.connects == 1
        assert (await client.send_action("Ping")).get("ping") == "Pong"


async def test_a_pbx_that_sends_no_banner_gets_each_socket_closed() -> None:
    """A listener that accepts but never greets (a stalled Asterisk, a wrong port):
    every attempt's socket is closed when its connect timeout ends, not left open."""
    accepted: list[asyncio.StreamReader] = []
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(reader)
        await reader.read()  # b"" once the client closes its side
        closed.set()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = AmiConfig(
        port=port,
        username=USER,
        secret=SECRET,
        connect_timeout=0.2,
        backoff_initial=5.0,
        backoff_max=5.0,
    )
    client = AmiClient(config, EventPipeline(), None, rng=random.Random(3))
    await client.start()
    try:
        async with asyncio.timeout(3):
            await closed.wait()
        assert len(accepted) == 1
        assert client.status.last_error is not None
    finally:
        await client.stop()
        server.close()
        await server.wait_closed()
