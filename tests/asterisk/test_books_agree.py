"""Trubka's call records against Asterisk's own books, on a real Asterisk 22.10.1."""

from __future__ import annotations

import pytest

from telephony.books.queue_log import QueueOutcome, queue_calls
from tests.asterisk.kit_lab import LabPbx, TrubkaNode

pytestmark = pytest.mark.asterisk


def test_a_queue_call_is_stored_as_queue_log_tells_it(pbx: LabPbx, trubka: TrubkaNode) -> None:
    before = len(pbx.queue_log_lines())
    pbx.phones.call("+79161230001", name="Иван Петров", talk=3)
    status = pbx.wait_idle()
    assert status["calls"][-1]["outcome"] == "completed"
    stays = queue_calls(pbx.queue_log_lines()[before:])
    assert [s.outcome for s in stays] == [QueueOutcome.ANSWERED]
    stay = stays[0]
    record = trubka.call(stay.callid)
    assert record["disposition"] == "answered"
    assert record["queue"] == stay.queue == "support"
    assert record["caller_number"] == "+79161230001"
    assert record["caller_name"] == "Иван Петров"
    assert record["agent_name"] == stay.agent
    assert abs(record["wait_seconds"] - stay.wait_seconds) <= 1.0
    assert abs(record["talk_seconds"] - stay.talk_seconds) <= 1.0
