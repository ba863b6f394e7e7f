"""`SimPbx`: the simulated Asterisk as one object, and its control API.

    pbx = SimPbx(SimConfig(seed=1, port=0))
    await pbx.start()                 # AMI on 127.0.0.1:pbx.port, the call generator running
    call = pbx.place_call("74951234567", "Иван Петров", answered_by="102", talk_time=2)
    pbx.set_agent_answers("101", False)
    pbx.actions("QueuePause")        # the actions it received, with their headers
    await pbx.kill(); await pbx.restart()   # an Asterisk crash and restart: channels lost
    await pbx.shutdown()              # `Event: Shutdown`, then the same
    await pbx.stop()

`pbx.history` holds what the engine made of every finished call (:class:`IntendedCall`),
for tests that compare it with what a client reconstructs from the AMI bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable

from telephony.simpbx import wire as w
from telephony.simpbx.calls import Calls
from telephony.simpbx.config import SimConfig
from telephony.simpbx.engine import CallEngine
from telephony.simpbx.model import HangupBy, IntendedCall, SimCall
from telephony.simpbx.originate import Originator
from telephony.simpbx.registration import set_registered
from telephony.simpbx.server import AmiServer
from telephony.simpbx.session import Action

log = logging.getLogger(__name__)


class SimPbx:
    def __init__(
        self, config: SimConfig | None = None, *, on_write: Callable[[bytes], None] | None = None
    ) -> None:
        """`on_write` sees every burst of events just before it goes to the sockets
        (benchmarks time the screen pop from there)."""
        self.config = config or SimConfig()
        self.on_write = on_write
        self.rng = random.Random(self.config.seed)
        self.server: AmiServer | None = None
        self.engine = CallEngine(self.config, self._broadcast, rng=self.rng)
        self.calls = Calls(self.engine)
        self.originator = Originator(self.calls)
        self.server = AmiServer(self.config, self.engine, self.calls, self.originator)
        self.running = False
        self.restarts = 0
        self._generator: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    @property
    def history(self) -> list[IntendedCall]:
        return list(self.engine.history)

    @property
    def live_calls(self) -> list[SimCall]:
        return list(self.engine.calls.values())

    async def start(self, *, generate: bool | None = None) -> None:
        """Listen for AMI; start placing calls when `timing.call_interval` > 0."""
        assert self.server is not None
        await self.server.start()
        self.running = True
        want = self.config.timing.call_interval > 0 if generate is None else generate
        if want:
            self.start_generator()

    async def stop(self) -> None:
        self.stop_generator()
        for call in self.engine.abandon_all():
            if call.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await call.task
        assert self.server is not None
        await self.server.stop()
        self.running = False

    async def kill(self) -> None:
        """Asterisk dies: every connection drops at once, every channel is lost, no events."""
        self.stop_generator()
        self.engine.abandon_all()
        assert self.server is not None
        await self.server.stop()
        self.running = False

    async def restart(self, *, generate: bool | None = None) -> None:
        """Asterisk comes back on the same port with nothing: no channels, static members."""
        self.engine.reset()
        self.restarts += 1
        await self.start(generate=generate)

    async def shutdown(self, *, restart: bool = True, generate: bool | None = None) -> None:
        """`core restart now`: `Event: Shutdown` to every session, then a kill (and restart)."""
        self.engine.flush()
        self._broadcast(
            w.frame(
                [
                    ("Event", "Shutdown"),
                    ("Privilege", "system,all"),
                    ("Shutdown", "Cleanly"),
                    ("Restart", "True" if restart else "False"),
                ]
            )
        )
        await asyncio.sleep(0)
        await self.kill()
        if restart:
            await self.restart(generate=generate)

    def inject(self, data: bytes) -> None:
        """Write raw bytes to every logged-in session (garbage, half frames: tests)."""
        self.engine.flush()
        assert self.server is not None
        for session in list(self.server.sessions):
            if session.logged_in:
                session.write(data)

    def drop_connections(self) -> None:
        """Cut every AMI connection (the network, not Asterisk): calls go on."""
        assert self.server is not None
        for session in list(self.server.sessions):
            session.abort()

    async def disconnect_ami(self) -> None:
        """AMI becomes unreachable (a network outage): calls go on, nobody hears them."""
        assert self.server is not None
        await self.server.stop()

    async def reconnect_ami(self) -> None:
        """AMI is reachable again on the same port."""
        assert self.server is not None
        await self.server.start()

    def stall(self) -> None:
        """The PBX stops answering (a hung Asterisk, a dead network path): nothing is sent."""
        assert self.server is not None
        self.server.stalled = True

    def resume(self) -> None:
        assert self.server is not None
        self.server.stalled = False

    # --- calls ---------------------------------------------------------------------------
    def place_call(
        self,
        number: str | None = None,
        name: str | None = None,
        *,
        patience: float | None = None,
        talk_time: float | None = None,
        answered_by: str | None = None,
        hangup_by: HangupBy | str | None = None,
        queue: str | None = None,
        transfer_to: str | None = None,
    ) -> SimCall:
        """A customer calls in now. Unset values come from the seeded RNG and the timings."""
        t = self.config.timing
        rng = self.rng
        if number is None or name is None:
            customer = rng.choice(self.config.customers)
            number = customer.number if number is None else number
            name = customer.name if name is None else name
        if hangup_by is None:
            hangup_by = HangupBy.AGENT if rng.random() < t.agent_hangup_share else HangupBy.CALLER
        return self.calls.new_inbound(
            number,
            name,
            patience=rng.uniform(*t.patience) if patience is None else patience,
            talk_time=rng.uniform(*t.talk_time) if talk_time is None else talk_time,
            hangup_by=HangupBy(hangup_by),
            queue=queue or self.config.default_queue,
            answered_by=answered_by,
            transfer_to=transfer_to,
        )

    def answer(self, agent_number: str) -> SimCall:
        """The agent picks up the call ringing their phone now (a queue or a direct dial).

        Use with `set_agent_answers(number, False)` so that the phone rings until told."""
        for call in self.engine.calls.values():
            for ring in call.rings:
                if ring.agent.number == agent_number:
                    ring.answer_at = self.engine.clock()
                    call.wake.set()
                    return call
        raise LookupError(f"agent {agent_number} has no ringing call")

    def hang_up(self, linkedid: str, *, by: HangupBy | str = HangupBy.CALLER) -> None:
        """End a call now: the caller or the agent puts the phone down (as a Hangup would)."""
        call = self.engine.calls.get(linkedid)
        if call is None:
            raise LookupError(f"no call {linkedid} in progress")
        channel = call.agent_one if HangupBy(by) is HangupBy.AGENT else call.one
        if channel is None:
            raise LookupError(f"call {linkedid} has no agent on it yet")
        call.hangup_request = (channel, 16)
        call.wake.set()

    def actions(self, name: str | None = None) -> list[Action]:
        """The actions received after Login (all, or those named `name`), oldest first."""
        assert self.server is not None
        wanted = name.lower() if name else None
        return [a for a in self.server.received if wanted is None or a.name.lower() == wanted]

    def set_agent_answers(self, number: str, answers: bool) -> None:
        agent = self.engine.agents[number]
        agent.answers = answers

    def set_phone_registered(self, number: str, registered: bool) -> None:
        """PJSIP mode: agent `number`'s SIP phone unregisters or registers again."""
        if not self.config.pjsip:
            raise ValueError("only SIP phones register: start the PBX with channel_mode='pjsip'")
        set_registered(self.engine, self.engine.agents[number], registered)

    def set_agents_answer(self, answers: bool, numbers: Iterable[str] | None = None) -> None:
        for number in numbers or list(self.engine.agents):
            self.set_agent_answers(number, answers)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no call is in progress (tests)."""
        async with asyncio.timeout(timeout):
            while self.engine.calls:
                tasks = [c.task for c in self.engine.calls.values() if c.task is not None]
                if tasks:
                    await asyncio.wait(tasks)
                else:
                    await asyncio.sleep(0.01)

    # --- the call generator --------------------------------------------------------------
    def start_generator(self) -> None:
        if self._generator is None or self._generator.done():
            self._generator = asyncio.get_running_loop().create_task(
                self._generate(), name="simpbx-generator"
            )

    def stop_generator(self) -> None:
        if self._generator is not None:
            self._generator.cancel()
            self._generator = None

    async def _generate(self) -> None:
        t = self.config.timing
        rng = self.rng
        while True:
            await asyncio.sleep(max(0.05, t.call_interval * rng.uniform(0.6, 1.4)))
            transfer_to = None
            if rng.random() < t.transfer_share:
                transfer_to = rng.choice(list(self.engine.agents))
            queue = rng.choice([q.name for q in self.config.queues]) if self.config.queues else None
            try:
                self.place_call(queue=queue, transfer_to=transfer_to)
            except Exception:
                log.exception("simulated PBX: placing a call failed")

    # --- output --------------------------------------------------------------------------
    def _broadcast(self, data: bytes) -> None:
        if self.on_write is not None:
            self.on_write(data)
        if self.server is not None:
            self.server.broadcast(data)
