"""The request/answer of PBX actions between nodes, without a database: two
`RemoteActions` whose envelopes go straight to each other (as the bridge delivers them)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from supervisor.errors import TargetNotFound
from telephony.errors import ActionFailed, NotConnected
from trubka.cluster.remote import RemoteActions, error_from, error_json
from web.panel.errors import PhoneFailed


class Pair:
    """Node `a` consumes AMI (while `a_produces`), node `b` asks."""

    def __init__(self) -> None:
        self.a_produces = True
        self.a = RemoteActions("a", self._to_b, lambda: self.a_produces)
        self.b = RemoteActions("b", self._to_a, lambda: False)
        self.b.probe = 0.2

    def _deliver(self, node: RemoteActions, text: str) -> None:
        envelope = json.loads(text)
        kind = envelope["k"]
        if kind == "q":
            node.request(envelope)
        elif kind == "a":
            node.answer(envelope)
        elif kind == "p":
            node.heard_producer(envelope["n"])
        elif kind == "p?":
            node.announce()

    def _to_b(self, text: str) -> None:
        asyncio.get_running_loop().call_soon(self._deliver, self.b, text)

    def _to_a(self, text: str) -> None:
        asyncio.get_running_loop().call_soon(self._deliver, self.a, text)


class Unavailable(Exception):
    pass


async def test_an_answer_and_an_error_come_back_as_the_same_values_and_classes() -> None:
    pair = Pair()
    seen: list[dict[str, Any]] = []

    async def pause(args: dict[str, Any]) -> Any:
        seen.append(args)
        if args["agent"] == "PJSIP/999":
            raise TargetNotFound(
                "agent PJSIP/999 is not known", code="agent_not_found", field="agent"
            )
        if args["agent"] == "PJSIP/998":
            raise ActionFailed("QueuePause", "Interface not found")
        return {"message": "Interface paused successfully"}

    pair.a.register("pause", pause)
    answer = await pair.b.call("pause", {"agent": "PJSIP/101"}, Unavailable)
    assert answer == {"message": "Interface paused successfully"}
    assert seen == [{"agent": "PJSIP/101"}]
    with pytest.raises(TargetNotFound) as refused:
        await pair.b.call("pause", {"agent": "PJSIP/999"}, Unavailable)
    assert (refused.value.code, refused.value.field) == ("agent_not_found", "agent")
    assert refused.value.message == "agent PJSIP/999 is not known"
    with pytest.raises(ActionFailed) as failed:
        await pair.b.call("pause", {"agent": "PJSIP/998"}, Unavailable)
    assert (failed.value.action, failed.value.message) == ("QueuePause", "Interface not found")
    assert pair.a.served == 3 and pair.b.forwarded == 3


async def test_nobody_consuming_ami_fails_fast_and_a_node_that_stopped_says_so() -> None:
    pair = Pair()
    pair.a.register("pause", lambda _args: asyncio.sleep(0, result="ok"))
    assert await pair.b.call("pause", {}, Unavailable) == "ok"
    pair.a_produces = False  # node A lost the AMI lease: it answers "gone" at once
    with pytest.raises(Unavailable):
        await asyncio.wait_for(pair.b.call("pause", {}, Unavailable), 1.0)
    with pytest.raises(Unavailable):  # and nobody answers "who consumes AMI?"
        await asyncio.wait_for(pair.b.call("pause", {}, Unavailable), 1.0)


def test_only_the_errors_of_trubkas_packages_are_raised_again() -> None:
    error = PhoneFailed("phone_busy", "your phone PJSIP/101 is busy", reason=5)
    again = error_from(json.loads(json.dumps(error_json(error))))
    assert isinstance(again, PhoneFailed)
    assert (again.code, again.message, again.details) == (error.code, error.message, {"reason": 5})
    assert isinstance(error_from(error_json(NotConnected("down"))), NotConnected)
    assert error_from({"t": "os.system", "args": ["true"]}) is None
    assert error_from({"t": "builtins.ValueError", "args": ["x"]}) is None
    assert error_from({"t": "trubka.settings.Settings", "args": []}) is None
