"""An outbound call keeps the agent's side and the customer's apart (Asterisk's-books
issue, item 7): the customer is `called_number`, as the contract says, and the agent's
own number is the caller — never the dialled number twice.

`tests/traces/lab/p5-click-to-call-201.ami`: a click-to-call recorded on the real
Asterisk 22.10.1 (Originate of PJSIP/201, then Dial of the trunk to 79265550002).
"""

from __future__ import annotations

from pathlib import Path

from telephony.replay import replay_file

TRACE = Path(__file__).resolve().parents[1] / "traces" / "lab" / "p5-click-to-call-201.ami"


def test_click_to_call_record_has_distinct_sides() -> None:
    (record,) = list(replay_file(TRACE))
    assert record.direction.value == "outbound"
    assert record.called_number == "+79265550002"
    assert (record.caller_number, record.caller_name) == ("201", "Agent 201")
    assert record.agent_interface == "PJSIP/201"
    assert record.disposition.value == "answered"
