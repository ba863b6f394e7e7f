"""Typed AMI actions: what the CRM asks of the PBX, in Trubka's terms.

    actions = AmiActions(client)
    outcome = await actions.originate("PJSIP/101", context="from-internal", exten="84951234567",
                                      caller_id='"Анна" <101>', variables={"TRUBKA_CALL_ID": "42"})
    await actions.queue_pause("PJSIP/101", True, reason="lunch")
    await actions.spy("PJSIP/200", "PJSIP/101", SpyMode.WHISPER)

Values are sent as given, never interpolated into dialplan: a value with CR or LF is
refused (:class:`~telephony.codec.EncodeError`) before anything is sent. Failures are the
client's errors: :class:`~telephony.errors.ActionFailed` (with the PBX's message),
:class:`~telephony.errors.ActionTimeout`, :class:`~telephony.errors.NotConnected`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from kernel.agents import interface_key
from telephony.codec import EncodeError, Frame
from telephony.errors import ActionFailed
from telephony.state import SPY_ID_PREFIX, interface_of

ORIGINATE_REASONS = {
    0: "failed (no such channel or extension)",
    1: "hung up",
    3: "rang, not answered",
    4: "answered",
    5: "busy",
    8: "congestion",
}


class SpyMode(StrEnum):
    LISTEN = "listen"  # hear both sides, say nothing
    WHISPER = "whisper"  # talk to the agent only
    BARGE = "barge"  # talk to both


# ChanSpy options: q quiet, b bridged calls only, E exit when the spied-on channel hangs
# up, S stop when there is nothing to spy on; w whisper, B barge. When it is given a
# whole channel name rather than an agent's interface, `u` makes ChanSpy take it as
# exactly that channel (or a uniqueid), not as a prefix of channel names.
_SPY_OPTIONS = {SpyMode.LISTEN: "bqES", SpyMode.WHISPER: "bqESw", SpyMode.BARGE: "bqESB"}


class ActionSender(Protocol):
    async def send_action(
        self,
        action: str,
        headers: Mapping[str, object] | list[tuple[str, object]] = ...,
        *,
        timeout: float | None = ...,
    ) -> Frame: ...

    async def send_until_event(
        self,
        action: str,
        headers: Mapping[str, object] | list[tuple[str, object]],
        final_event: str,
        *,
        timeout: float | None = ...,
    ) -> tuple[Frame, Frame]: ...


@dataclass(frozen=True, slots=True)
class OriginateOutcome:
    """How an Originate ended: `reason` 4 is answered (see ORIGINATE_REASONS)."""

    success: bool
    reason: int
    channel: str
    uniqueid: str | None
    message: str

    @property
    def reason_text(self) -> str:
        return ORIGINATE_REASONS.get(self.reason, f"reason {self.reason}")


def escape_variable(value: str) -> str:
    """Asterisk splits `Variable:` values on commas and strips quotes and backslashes."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace('"', '\\"')


def variable_headers(variables: Mapping[str, object] | None) -> list[tuple[str, object]]:
    headers: list[tuple[str, object]] = []
    for name, value in (variables or {}).items():
        if not name or any(c in name for c in "=,\r\n\x00 "):
            raise EncodeError(f"invalid channel variable name {name!r}")
        text = "" if value is None else str(value)
        headers.append(("Variable", f"{name}={escape_variable(text)}"))
    return headers


def spy_target(agent: str) -> str:
    """ChanSpy's channel prefix for an agent: `PJSIP/101` → `PJSIP/101-` (not 1010's)."""
    agent = agent.strip()
    if not agent or "," in agent:
        raise EncodeError(f"invalid channel to spy on: {agent!r}")
    if interface_of(agent) != agent:
        return agent  # a channel name already: `PJSIP/101-0000002a`
    return interface_key(agent) + "-"


class AmiActions:
    def __init__(self, client: ActionSender) -> None:
        self.client = client

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, object] | None = None,
        timeout: float = 30.0,
        run_async: bool = True,
        wait: bool = True,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        account: str | None = None,
    ) -> OriginateOutcome:
        """Place a call from `channel` to an extension or an application.

        `timeout` is how long `channel` may ring. With `run_async` (the default) the PBX
        answers at once and the outcome is the later `OriginateResponse`, awaited when
        `wait` is true; a synchronous Originate answers when the channel answered.
        """
        if (application is None) == (exten is None):
            raise ValueError("originate needs either context/exten or application")
        headers: list[tuple[str, object]] = [("Channel", channel)]
        if application is not None:
            headers += [("Application", application), ("Data", data or "")]
        else:
            headers += [("Context", context or "default"), ("Exten", exten), ("Priority", priority)]
        if caller_id:
            headers.append(("CallerID", caller_id))
        headers.append(("Timeout", int(timeout * 1000)))
        headers += variable_headers(variables)
        if account:
            headers.append(("Account", account))
        if channel_id:
            headers.append(("ChannelId", channel_id))
        if other_channel_id:
            headers.append(("OtherChannelId", other_channel_id))
        reply_timeout = timeout + 10.0
        if not run_async:
            response = await self.client.send_action("Originate", headers, timeout=reply_timeout)
            return OriginateOutcome(True, 4, channel, channel_id, response.get("message") or "")
        headers.append(("Async", "true"))
        if not wait:
            response = await self.client.send_action("Originate", headers)
            return OriginateOutcome(
                True, -1, channel, channel_id, response.get("message") or "queued"
            )
        response, event = await self.client.send_until_event(
            "Originate", headers, "OriginateResponse", timeout=reply_timeout
        )
        try:
            reason = int(event.get("reason") or 0)
        except ValueError:
            reason = 0
        uniqueid = event.get("uniqueid")
        return OriginateOutcome(
            success=(event.get("response") or "").lower() == "success",
            reason=reason,
            channel=event.get("channel") or channel,
            uniqueid=None if uniqueid in (None, "", "<unknown>") else uniqueid,
            message=response.get("message") or "",
        )

    async def queue_pause(
        self, interface: str, paused: bool, reason: str | None = None, queue: str | None = None
    ) -> str:
        """Pause or unpause a member in one queue, or in every queue when `queue` is None."""
        headers: list[tuple[str, object]] = []
        if queue:
            headers.append(("Queue", queue))
        headers += [("Interface", interface), ("Paused", paused)]
        if paused and reason:
            headers.append(("Reason", reason))
        return _message(await self.client.send_action("QueuePause", headers))

    async def queue_add(
        self,
        queue: str,
        interface: str,
        *,
        member_name: str | None = None,
        penalty: int = 0,
        paused: bool = False,
        reason: str | None = None,
        state_interface: str | None = None,
    ) -> str:
        headers: list[tuple[str, object]] = [("Queue", queue), ("Interface", interface)]
        if member_name:
            headers.append(("MemberName", member_name))
        headers.append(("Penalty", penalty))
        if paused:
            headers.append(("Paused", True))
            if reason:
                headers.append(("Reason", reason))
        if state_interface:
            headers.append(("StateInterface", state_interface))
        return _message(await self.client.send_action("QueueAdd", headers))

    async def queue_remove(self, queue: str, interface: str) -> str:
        return _message(
            await self.client.send_action(
                "QueueRemove", [("Queue", queue), ("Interface", interface)]
            )
        )

    async def queue_penalty(self, queue: str, interface: str, penalty: int) -> str:
        """Set a member's penalty in one queue (Asterisk answers `QueueMemberPenalty`)."""
        return _message(
            await self.client.send_action(
                "QueuePenalty", [("Queue", queue), ("Interface", interface), ("Penalty", penalty)]
            )
        )

    async def pjsip_endpoints(self) -> dict[str, str]:
        """The PJSIP endpoints Asterisk has (`PJSIPShowEndpoints`): name → device state.
        Empty when it has none ("No endpoints found")."""
        send_list = getattr(self.client, "send_list", None)
        if send_list is None:
            raise ActionFailed("PJSIPShowEndpoints", "this AMI client cannot list endpoints")
        try:
            result = await send_list("PJSIPShowEndpoints")
        except ActionFailed as exc:
            if "no endpoints" in exc.message.lower():
                return {}
            raise
        return {
            item.get("objectname") or "": item.get("devicestate") or ""
            for item in result.items
            if item.get("objectname")
        }

    async def get_config(
        self, filename: str, category: str | None = None
    ) -> dict[str, dict[str, str]]:
        """A configuration file as Asterisk reads it (`GetConfig`): category → key → value
        (the last value of a repeated key)."""
        headers: list[tuple[str, object]] = [("Filename", filename)]
        if category:
            headers.append(("Category", category))
        frame = await self.client.send_action("GetConfig", headers)
        categories: dict[str, str] = {}
        config: dict[str, dict[str, str]] = {}
        for name, value in frame.pairs:
            lowered = name.lower()
            if lowered.startswith("category-"):
                number = lowered.removeprefix("category-")
                categories[number] = value
                config.setdefault(value, {})
            elif lowered.startswith("line-"):
                number = lowered.removeprefix("line-").split("-")[0]
                key, _, item = value.partition("=")
                config.setdefault(categories.get(number, ""), {})[key.strip()] = item.strip()
        return config

    async def hangup(self, channel: str, cause: int = 16) -> str:
        return _message(
            await self.client.send_action("Hangup", [("Channel", channel), ("Cause", cause)])
        )

    async def setvar(self, variable: str, value: str, channel: str | None = None) -> None:
        headers: list[tuple[str, object]] = []
        if channel:
            headers.append(("Channel", channel))
        headers += [("Variable", variable), ("Value", value)]
        await self.client.send_action("Setvar", headers)

    async def getvar(self, variable: str, channel: str | None = None) -> str | None:
        """A channel variable or function value; None when it is empty or unset."""
        headers: list[tuple[str, object]] = []
        if channel:
            headers.append(("Channel", channel))
        headers.append(("Variable", variable))
        response = await self.client.send_action("Getvar", headers)
        return response.get("value") or None

    async def redirect(
        self,
        channel: str,
        context: str,
        exten: str,
        priority: int = 1,
        *,
        extra_channel: str | None = None,
        extra_exten: str | None = None,
    ) -> str:
        """`Redirect` a channel (and `extra_channel`, to `extra_exten` when given) out of
        whatever it does to `exten@context`."""
        headers: list[tuple[str, object]] = [
            ("Channel", channel),
            ("Context", context),
            ("Exten", exten),
            ("Priority", priority),
        ]
        if extra_channel:
            headers += [
                ("ExtraChannel", extra_channel),
                ("ExtraContext", context),
                ("ExtraExten", extra_exten or exten),
            ]
            headers.append(("ExtraPriority", priority))
        return _message(await self.client.send_action("Redirect", headers))

    async def blind_transfer(self, channel: str, context: str, exten: str) -> str:
        """`BlindTransfer`: whoever `channel` (the agent's side) is bridged with goes on to
        `exten@context`; the PBX then reports a `BlindTransfer` event."""
        return _message(
            await self.client.send_action(
                "BlindTransfer", [("Channel", channel), ("Context", context), ("Exten", exten)]
            )
        )

    async def attended_transfer(self, channel: str, context: str, exten: str) -> str:
        """`Atxfer`: `channel` (the agent's side) calls `exten@context` while its peer
        hears music on hold; hanging up completes the transfer (`AttendedTransfer`)."""
        return _message(
            await self.client.send_action(
                "Atxfer", [("Channel", channel), ("Context", context), ("Exten", exten)]
            )
        )

    async def bridge(self, channel1: str, channel2: str) -> str:
        """`Bridge`: join two channels that are in the dialplan (e.g. back from hold)."""
        return _message(
            await self.client.send_action(
                "Bridge", [("Channel1", channel1), ("Channel2", channel2), ("Tone", "no")]
            )
        )

    async def spy(
        self,
        supervisor_interface: str,
        agent_channel_or_interface: str,
        mode: SpyMode | str = SpyMode.LISTEN,
        *,
        caller_id: str | None = None,
        timeout: float = 30.0,
    ) -> OriginateOutcome:
        """Ring the supervisor's own phone; when answered it listens to, whispers to or
        barges into the agent's call (ChanSpy).

        Give the agent's channel in the call (`PJSIP/101-0000002a`, or the queue side of
        a Local channel, `Local/101@agents-00000001;1`) to spy on exactly that channel;
        an interface (`PJSIP/101`) spies on the first bridged channel of that device."""
        spy_mode = SpyMode(mode)
        target = agent_channel_or_interface.strip()
        exact = "u" if interface_of(target) != target else ""  # a channel name: that one
        data = f"{spy_target(target)},{_SPY_OPTIONS[spy_mode]}{exact}"
        return await self.originate(
            supervisor_interface,
            application="ChanSpy",
            data=data,
            channel_id=new_spy_id(),
            caller_id=caller_id
            or f'"Spy ({spy_mode.value})" <{interface_key(supervisor_interface)}>',
            timeout=timeout,
        )


def new_spy_id() -> str:
    """The unique id of a supervisor's spying phone: the reducer knows it by its prefix
    and never makes a call record of it (docs/architecture.md, "Call record")."""
    return f"{SPY_ID_PREFIX}{time.time():.0f}-{secrets.token_hex(6)}"


def _message(frame: Frame) -> str:
    return frame.get("message") or ""
