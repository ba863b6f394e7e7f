"""A supervisor's listen/whisper/barge is not a call (the Asterisk's-books issue, item 1).

`tests/traces/lab/p10-supervisor-listens.ami` was recorded on the real Asterisk 22.10.1
of the lab kit: a customer in queue `support` answered by PJSIP/202, then Trubka's
"listen" rang the supervisor's PJSIP/209, which answered into ChanSpy. It predates the
`trubka-spy-` unique id, so it is recognised by ChanSpyStart alone. The only change to the
recorded bytes: the lab's recordings folder is written as Asterisk's default one.
"""

from __future__ import annotations

from pathlib import Path

from telephony.actions import new_spy_id
from telephony.domain import CallEnded, CallStarted, SpySessionEnded
from telephony.pipeline import EventPipeline
from telephony.reducer import CallState
from telephony.replay import replay_events
from telephony.state import is_spy_id

TRACE = Path(__file__).resolve().parents[1] / "traces" / "lab" / "p10-supervisor-listens.ami"
CUSTOMER = "1796525216.2"
SPY = "1796525220.4"


def test_a_recorded_listen_leaves_only_the_customer_s_call() -> None:
    events = list(replay_events(TRACE.read_bytes()))
    records = [e.record for e in events if isinstance(e, CallEnded)]
    assert [r.linkedid for r in records] == [CUSTOMER]
    assert records[0].agent_interface == "PJSIP/202"
    assert records[0].disposition.value == "answered"
    sessions = [e for e in events if isinstance(e, SpySessionEnded)]
    assert len(sessions) == 1
    session = sessions[0]
    assert (session.uniqueid, session.phone, session.spied_linkedid) == (
        SPY,
        "PJSIP/209",
        CUSTOMER,
    )
    assert session.listening_from is not None
    assert session.started_at <= session.listening_from < session.ended_at


def _frame(event: str, **headers: str) -> bytes:
    lines = [f"Event: {event}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_phone_trubka_rang_to_spy_is_never_a_call_even_unanswered() -> None:
    spy = new_spy_id()
    assert is_spy_id(spy) and not is_spy_id("1796525220.4")
    channel = {
        "Channel": "PJSIP/209-00000009",
        "ChannelState": "5",
        "ChannelStateDesc": "Ringing",
        "CallerIDNum": "+79161239999",
        "CallerIDName": "Listen: Agent 202",
        "Context": "agents-pj",
        "Exten": "s",
        "Uniqueid": spy,
        "Linkedid": spy,
    }
    pipeline = EventPipeline(state=CallState())
    events = list(pipeline.feed(b"Asterisk Call Manager/11.0.0\r\n", 100.0))
    events += pipeline.feed(_frame("Newchannel", **channel), 100.0)
    events += pipeline.feed(_frame("Hangup", **channel, Cause="19"), 120.0)
    assert not [e for e in events if isinstance(e, CallEnded | CallStarted)]
    ended = [e for e in events if isinstance(e, SpySessionEnded)]
    assert [(e.uniqueid, e.spied_linkedid, e.listening_from) for e in ended] == [(spy, None, None)]
