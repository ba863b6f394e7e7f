"""Channel variables the dialplan sets (routing, contact, queue status) and recordings."""

from __future__ import annotations

from telephony import domain as d
from telephony import events as e
from telephony.reducer.call_state import CallState, Effects
from telephony.reducer.channels import known


def on_varset(s: CallState, ev: e.VarSet, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found is None:
        return
    call = found[0]
    value = ev.value.strip()
    var = ev.variable
    if var == "MIXMONITOR_FILENAME" and value:
        call.recording_file = value
    elif var == "ROUTE_AGENT":
        if call.routed_by is not None and call.routing_reason is not None:
            # Trubka's decision (ROUTE_BY and ROUTE_REASON come first): in the timeline.
            call.step(at, "routing-decision", f"{call.routed_by}: {call.routing_reason}")
        if value:
            call.route_agent = value
            call.step(at, "routed", value)
            out.append(d.CallRouted(call.linkedid, at, value, call.routed_by, call.routing_reason))
    elif var == "ROUTE_REASON" and value:
        call.routing_reason = value
    elif var == "ROUTE_BY" and value:
        call.routed_by = value
    elif var == "TRUBKA_CONTACT_ID" and value.isdigit():
        call.contact_id = int(value)
    elif var == "QUEUESTATUS" and value:
        call.queue_status = value


def on_mixmonitor_start(s: CallState, ev: e.MixMonitorStart, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found is None:
        return
    call = found[0]
    call.recording_active = True
    call.step(at, "recording-started", call.recording_file or "")
    if call.recording_file:
        out.append(d.RecordingStarted(call.linkedid, at, call.recording_file))


def on_mixmonitor_stop(s: CallState, ev: e.MixMonitorStop, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found is None:
        return
    call = found[0]
    call.recording_active = False
    call.step(at, "recording-stopped", call.recording_file or "")
    if call.recording_file:
        out.append(d.RecordingStopped(call.linkedid, at, call.recording_file))
