"""Helpers for tests against the simulated PBX: fast timings, a raw AMI capture client,
a scriptable FastAGI server and a way to compare reconstructed calls with intended ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from kernel.agents import interface_key
from kernel.phones import normalize
from telephony.codec import encode_action
from telephony.domain import CallEnded, DomainEvent
from telephony.pipeline import EventPipeline
from telephony.records import CallRecord
from telephony.simpbx import AgentConfig, IntendedCall, QueueConfig, SimConfig, SimPbx, Timing

FAST = Timing(
    call_interval=0,
    answer_delay=(0.04, 0.04),
    talk_time=(0.15, 0.15),
    patience=(5.0, 5.0),
    agent_hangup_share=0.0,
    transfer_share=0.0,
    no_answer_share=0.0,
    agi_timeout=0.5,
    auth_fail_delay=0.01,
    remote_answer_delay=0.05,
    remote_talk_time=0.15,
)
FAST_QUEUES = (
    QueueConfig("support", strategy="rrmemory", timeout=0.25, retry=0.02, wrapup=0.0),
    QueueConfig("sales", strategy="ringall", timeout=0.25, retry=0.02, wrapup=0.0),
    QueueConfig("empty", strategy="ringall", timeout=0.25, retry=0.02, wrapup=0.0),
    QueueConfig("short", strategy="ringall", timeout=0.25, retry=0.02, wrapup=0.0, max_wait=0.2),
)
AGENTS = (
    AgentConfig("101", "Анна Смирнова", ("support",)),
    AgentConfig("102", "Борис Иванов", ("support",)),
    AgentConfig("103", "Виктория Орлова", ("support", "sales")),
    AgentConfig("104", "Григорий Павлов", ("sales",)),
    AgentConfig("105", "Дарья Кузнецова", ("sales",)),
)
USER, SECRET = "trubka", "s3cret"


def sim_config(**overrides: object) -> SimConfig:
    values: dict[str, object] = {
        "username": USER,
        "secret": SECRET,
        "seed": 7,
        "timing": FAST,
        "queues": FAST_QUEUES,
        "agents": AGENTS,
    }
    values.update(overrides)
    return SimConfig(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running(config: SimConfig | None = None) -> AsyncIterator[SimPbx]:
    pbx = SimPbx(config or sim_config())
    await pbx.start(generate=False)
    try:
        yield pbx
    finally:
        await pbx.stop()
        assert pbx.server is not None
        assert not pbx.server._session_tasks  # every AMI session ended with the PBX


@dataclass
class RawAmi:
    """A plain AMI session that records every byte it receives, with arrival times."""

    port: int
    reads: list[tuple[float, bytes]] = field(default_factory=list)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _task: asyncio.Task[None] | None = None
    _seq: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(self, *, login: bool = True, **login_headers: str) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._task = asyncio.create_task(self._read())
        await self.until(lambda data: data.startswith(b"Asterisk Call Manager/"))
        if login:
            headers = {"Username": USER, "Secret": SECRET, **login_headers}
            reply = await self.action("Login", headers)
            assert b"Authentication accepted" in reply, reply

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            chunk = await self._reader.read(65536)
            if not chunk:
                break
            self.reads.append((time.time(), chunk))
            self._arrived.set()
        self._arrived.set()

    @property
    def data(self) -> bytes:
        return b"".join(chunk for _, chunk in self.reads)

    @property
    def closed(self) -> bool:
        return self._task is not None and self._task.done()

    async def until(self, predicate: Callable[[bytes], bool], timeout: float = 5.0) -> bytes:
        async with asyncio.timeout(timeout):
            while not predicate(self.data):
                if self.closed:
                    raise ConnectionError("the PBX closed the connection")
                self._arrived.clear()
                await self._arrived.wait()
        return self.data

    def send(self, action: str, headers: dict[str, str] | None = None) -> str:
        self._seq += 1
        action_id = f"t-{self._seq}"
        assert self._writer is not None
        self._writer.write(encode_action(action, {"ActionID": action_id, **(headers or {})}))
        return action_id

    def frames_for(self, action_id: str) -> list[bytes]:
        marker = f"ActionID: {action_id}\r\n".encode()
        return [f + b"\r\n\r\n" for f in self.data.split(b"\r\n\r\n") if marker in f + b"\r\n"]

    async def action(
        self, action: str, headers: dict[str, str] | None = None, *, complete: str | None = None
    ) -> bytes:
        """Send an action; return the frames carrying its ActionID (through `complete`)."""
        action_id = self.send(action, headers)
        end = f"Event: {complete}\r\n".encode() if complete else None

        def done(_: bytes) -> bool:
            frames = self.frames_for(action_id)
            return bool(frames) and (end is None or any(f.startswith(end) for f in frames))

        await self.until(done)
        return b"".join(self.frames_for(action_id))

    async def sync(self) -> None:
        """Everything the PBX decided so far has arrived (a Ping answer follows it)."""
        await self.action("Ping")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._task


def replay_reads(
    reads: list[tuple[float, bytes]],
) -> tuple[list[CallRecord], EventPipeline, list[DomainEvent]]:
    pipeline = EventPipeline()
    events: list[DomainEvent] = []
    for at, chunk in reads:
        events += pipeline.feed(chunk, at)
    records = [e.record for e in events if isinstance(e, CallEnded)]
    return records, pipeline, events


def assert_matches(
    record: CallRecord, intended: IntendedCall, *, talk_tolerance: float = 0.15
) -> None:
    """The reconstructed record says what the engine meant the call to be.

    Talk time comes from when the bytes arrived; the PBX and the reader share one event
    loop (and a busy machine), so arrival may lag the engine's clock a little.
    """
    assert record.linkedid == intended.linkedid
    assert record.direction.value == intended.direction, (record, intended)
    if intended.direction == "outbound":
        assert record.called_number == normalize(intended.called_number, "RU")
    else:
        assert record.caller_number == normalize(intended.caller_number, "RU")
        assert record.caller_name == intended.caller_name
    assert record.queue == intended.queue, (record, intended)
    got = interface_key(record.agent_interface) if record.agent_interface else None
    want = interface_key(intended.agent_interface) if intended.agent_interface else None
    assert got == want, (record, intended)
    assert record.disposition.value == intended.disposition, (record, intended)
    recording = record.recording_file.rsplit("/", 1)[-1] if record.recording_file else None
    assert recording == intended.recording_file
    assert abs(record.talk_seconds - intended.talk_seconds) <= talk_tolerance, (record, intended)


AgiScript = Callable[["AgiSession"], "asyncio.Future[None] | object"]


@dataclass
class AgiSession:
    env: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    replies: list[str] = field(default_factory=list)

    async def command(self, line: str) -> str:
        self.writer.write(line.encode() + b"\n")
        await self.writer.drain()
        reply = (await self.reader.readline()).decode().strip()
        self.replies.append(reply)
        return reply


class AgiServer:
    """A FastAGI server over TCP; the script for a call is picked by its caller number."""

    def __init__(self, scripts: dict[str, Callable[[AgiSession], object]]) -> None:
        self.scripts = scripts
        self.sessions: list[AgiSession] = []
        self._server: asyncio.base_events.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> AgiServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"agi://127.0.0.1:{self.port}/route"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        env: dict[str, str] = {}
        try:
            while True:
                line = await reader.readline()
                if line in (b"\n", b""):
                    break
                key, _, value = line.decode("utf-8", "replace").rstrip("\n").partition(": ")
                env[key] = value
            session = AgiSession(env, reader, writer)
            self.sessions.append(session)
            script = self.scripts.get(env.get("agi_arg_1", "")[-2:])
            if script is not None:
                result = script(session)
                if asyncio.iscoroutine(result):
                    await result
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)
