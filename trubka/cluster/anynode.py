"""PBX actions from any node, on the PBX where the agent's phone or the call is.

Two wrappers replace, in `Services.create`, the PBX's typed actions (`Services.pbx`)
and the supervisor's actions (`Supervisor.actions`) when there are several nodes
(PostgreSQL) or several PBXes (TRUBKA_PBXES):

* :class:`AnyNodeAmiActions` (click-to-call, the panel's pause, the card's call
  controls, queue members): on the node consuming AMI, each action goes to the PBX where
  its phone (`originate`, `queue_pause` …: the interface) or channel (`hangup`,
  `redirect` …) is, as `telephony.pbx_routing` knows it (the primary when none has seen
  it); on another node it is sent to the node consuming AMI (`trubka.cluster.remote`),
  which does the same.
* :class:`AnyNodeSupervisorActions` (listen/whisper/barge, pause, queue log-out, hang
  up): the checks against the live state and the audit line run where the live state
  is: on the node consuming AMI, on the PBX where the agent's phone (or the call) is;
  another node sends the request with the acting user (checked for the role here first
  by the web, then again there).

No node consuming AMI (none answers `p?` within a second, or the one heard has stopped):
a node with an AMI client of its own (down, or a standby's) runs the action itself and
answers exactly as one node whose AMI is down does (`pbx_unavailable` 503 for a
supervisor action, `pbx_down` 503 in the panel, the audit line `failed`); a node without
one answers `PbxUnavailable` (503) for a supervisor action and `NotConnected` (the
panel's `pbx_down`, 503) for the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from supervisor.actions import SupervisorActions
from supervisor.audit import Actor
from supervisor.errors import PbxUnavailable
from telephony.actions import AmiActions, OriginateOutcome, SpyMode
from telephony.codec import Frame
from telephony.errors import NotConnected
from telephony.pbx_routing import present
from telephony.reducer import CallState
from trubka.cluster.remote import RemoteActions

States = Callable[[], Mapping[str, CallState]]
# the methods another node may ask for, with the argument that says where they go
_BY_PHONE = {"originate": "channel", "queue_pause": "interface", "queue_add": "interface"}
_BY_PHONE |= {"queue_remove": "interface", "queue_penalty": "interface"}
_BY_CHANNEL = {"hangup": "channel", "redirect": "channel", "blind_transfer": "channel"}
_BY_CHANNEL |= {"attended_transfer": "channel", "bridge": "channel1", "setvar": "channel"}
_BY_CHANNEL |= {"getvar": "channel", "spy": "agent_channel_or_interface"}
_ANYWHERE = {"pjsip_endpoints", "get_config"}
METHODS = frozenset(_BY_PHONE) | frozenset(_BY_CHANNEL) | _ANYWHERE


def pbx_of_phone(states: Mapping[str, CallState], interface: str | None) -> str | None:
    """The PBX whose live state has seen this phone (None: none has, or one PBX)."""
    if not interface or len(states) < 2:
        return None
    for name, state in states.items():
        if present(state.agent_for(interface)):
            return name
    return None


def pbx_of_channel(states: Mapping[str, CallState], channel: str | None) -> str | None:
    """The PBX that has this channel up (by name), else the one that has seen the phone."""
    if not channel or len(states) < 2:
        return None
    for name, state in states.items():
        if any(c.name == channel for c in state.channels.values()):
            return name
    return pbx_of_phone(states, channel)


def pbx_of_call(states: Mapping[str, CallState], linkedid: str | None) -> str | None:
    if not linkedid or len(states) < 2:
        return None
    for name, state in states.items():
        if linkedid.strip() in state.calls:
            return name
    return None


class _NoClient:
    """The AMI client of a node that has none: every action is "not connected"."""

    async def send_action(self, action: str, headers: Any = (), *, timeout: Any = None) -> Frame:
        raise NotConnected(f"{action}: this node has no AMI link")

    async def send_until_event(
        self, action: str, headers: Any, final_event: str, *, timeout: Any = None
    ) -> tuple[Frame, Frame]:
        raise NotConnected(f"{action}: this node has no AMI link")


class NoProducer(Exception):
    """No node consumes AMI (or it did not answer): the action is not forwarded."""


def no_producer(why: str) -> BaseException:
    return NoProducer(why)


def _result_json(value: Any) -> Any:
    if isinstance(value, OriginateOutcome):
        return {"originate": dataclasses.asdict(value)}
    return value


def _result_from(method: str, value: Any) -> Any:
    if method in {"originate", "spy"} and isinstance(value, dict) and "originate" in value:
        return OriginateOutcome(**value["originate"])
    return value


class AnyNodeAmiActions(AmiActions):
    """The PBX's typed actions from any node, sent to the PBX where the phone is."""

    def __init__(
        self,
        primary: AmiActions | None,
        others: Callable[[], Mapping[str, AmiActions | None]],
        states: States,
        consumes: Callable[[], bool],
        remote: RemoteActions | None,
    ) -> None:
        super().__init__(primary.client if primary is not None else _NoClient())
        self.primary = primary
        self.others = others
        self.states = states
        self.consumes = consumes
        self.remote = remote
        if remote is not None:
            remote.register("ami", self._serve)

    def target(self, method: str, kwargs: Mapping[str, Any]) -> AmiActions:
        """The actions of the PBX this call goes to (this node consumes AMI)."""
        states = self.states()
        if method in _BY_PHONE:
            name = pbx_of_phone(states, kwargs.get(_BY_PHONE[method]))
        elif method in _BY_CHANNEL:
            name = pbx_of_channel(states, kwargs.get(_BY_CHANNEL[method]))
        else:
            name = None
        if name is not None:
            other = self.others().get(name)
            if other is not None:
                return other
        if self.primary is None:
            raise NotConnected("this node has no AMI link")
        return self.primary

    async def run(self, method: str, **kwargs: Any) -> Any:
        if self.remote is not None and not self.consumes():
            try:
                answer = await self.remote.call("ami", {"m": method, "kw": kwargs}, no_producer)
            except NoProducer as exc:
                if self.primary is None:
                    raise NotConnected(str(exc)) from None
                # this node has an AMI client (down, or a standby's): it answers as today
            else:
                return _result_from(method, answer)
        target = self.target(method, kwargs)
        return await getattr(AmiActions, method)(target, **kwargs)

    async def _serve(self, args: dict[str, Any]) -> Any:
        method = str(args.get("m"))
        if method not in METHODS:
            raise NotConnected(f"{method!r} is not an action another node may ask for")
        kwargs = dict(args.get("kw") or {})
        target = self.target(method, kwargs)
        return _result_json(await getattr(AmiActions, method)(target, **kwargs))

    # --- the typed actions -----------------------------------------------------------
    async def originate(self, channel: str, **options: Any) -> OriginateOutcome:
        outcome: OriginateOutcome = await self.run("originate", channel=channel, **_plain(options))
        return outcome

    async def queue_pause(
        self, interface: str, paused: bool, reason: str | None = None, queue: str | None = None
    ) -> str:
        return str(
            await self.run(
                "queue_pause", interface=interface, paused=paused, reason=reason, queue=queue
            )
        )

    async def queue_add(self, queue: str, interface: str, **options: Any) -> str:
        return str(await self.run("queue_add", queue=queue, interface=interface, **options))

    async def queue_remove(self, queue: str, interface: str) -> str:
        return str(await self.run("queue_remove", queue=queue, interface=interface))

    async def queue_penalty(self, queue: str, interface: str, penalty: int) -> str:
        return str(
            await self.run("queue_penalty", queue=queue, interface=interface, penalty=penalty)
        )

    async def pjsip_endpoints(self) -> dict[str, str]:
        found: dict[str, str] = await self.run("pjsip_endpoints")
        return found

    async def get_config(
        self, filename: str, category: str | None = None
    ) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = await self.run(
            "get_config", filename=filename, category=category
        )
        return found

    async def hangup(self, channel: str, cause: int = 16) -> str:
        return str(await self.run("hangup", channel=channel, cause=cause))

    async def setvar(self, variable: str, value: str, channel: str | None = None) -> None:
        await self.run("setvar", variable=variable, value=value, channel=channel)

    async def getvar(self, variable: str, channel: str | None = None) -> str | None:
        value = await self.run("getvar", variable=variable, channel=channel)
        return None if value is None else str(value)

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
        return str(
            await self.run(
                "redirect",
                channel=channel,
                context=context,
                exten=exten,
                priority=priority,
                extra_channel=extra_channel,
                extra_exten=extra_exten,
            )
        )

    async def blind_transfer(self, channel: str, context: str, exten: str) -> str:
        return str(await self.run("blind_transfer", channel=channel, context=context, exten=exten))

    async def attended_transfer(self, channel: str, context: str, exten: str) -> str:
        return str(
            await self.run("attended_transfer", channel=channel, context=context, exten=exten)
        )

    async def bridge(self, channel1: str, channel2: str) -> str:
        return str(await self.run("bridge", channel1=channel1, channel2=channel2))

    async def spy(
        self,
        supervisor_interface: str,
        agent_channel_or_interface: str,
        mode: SpyMode | str = SpyMode.LISTEN,
        *,
        caller_id: str | None = None,
        timeout: float = 30.0,
    ) -> OriginateOutcome:
        outcome: OriginateOutcome = await self.run(
            "spy",
            supervisor_interface=supervisor_interface,
            agent_channel_or_interface=agent_channel_or_interface,
            mode=str(SpyMode(mode).value),
            caller_id=caller_id,
            timeout=timeout,
        )
        return outcome


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments as JSON carries them (a mapping of variables as a dict)."""
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in options.items()}


def actor_json(actor: Actor) -> dict[str, Any]:
    return dataclasses.asdict(actor)


def actor_from(body: Mapping[str, Any]) -> Actor:
    return Actor(
        user_id=body.get("user_id"),
        login=str(body.get("login", "")),
        name=str(body.get("name", "")),
        role=str(body.get("role", "")),
        interfaces=tuple(str(i) for i in body.get("interfaces") or ()),
        client_ip=body.get("client_ip"),
    )


class AnyNodeSupervisorActions(SupervisorActions):
    """The supervisor's actions from any node, on the PBX where the agent or call is."""

    def __init__(
        self,
        local: SupervisorActions,
        others: Callable[[], Mapping[str, SupervisorActions]],
        states: States,
        consumes: Callable[[], bool],
        remote: RemoteActions | None,
        *,
        has_ami: bool,
    ) -> None:
        super().__init__(
            local.state, local.pbx, local.audit, spy_ring_seconds=local.spy_ring_seconds
        )
        self.local = local
        self.has_ami = has_ami  # this node has an AMI client of its own (up or not)
        self.others = others
        self.states = states
        self.consumes = consumes
        self.remote = remote
        if remote is not None:
            remote.register("sup", self._serve)

    def _here(self) -> bool:
        return self.remote is None or self.consumes()

    def _on(self, name: str | None) -> SupervisorActions:
        if name is None:
            return self.local
        return self.others().get(name) or self.local

    def _by_agent(self, agent: str | None) -> SupervisorActions:
        return self._on(pbx_of_phone(self.states(), (agent or "").strip() or None))

    def _by_call(self, linkedid: str | None, channel: str | None) -> SupervisorActions:
        states = self.states()
        if channel and channel.strip():
            return self._on(pbx_of_channel(states, channel.strip()))
        return self._on(pbx_of_call(states, linkedid))

    async def _forward(self, method: str, actor: Actor, **args: Any) -> dict[str, Any] | None:
        assert self.remote is not None
        body = {"m": method, "actor": actor_json(actor), "kw": args}
        try:
            answer: dict[str, Any] = await self.remote.call("sup", body, no_producer)
        except NoProducer as exc:
            if self.has_ami:
                return None  # this node's own AMI client (down, or a standby's) answers
            raise PbxUnavailable(f"the PBX is not reachable now: {exc}") from None
        return answer

    async def _serve(self, args: dict[str, Any]) -> Any:
        actor = actor_from(args.get("actor") or {})
        kw = dict(args.get("kw") or {})
        method = args.get("m")
        if method == "spy":
            return await self._by_agent(kw.get("agent")).spy(actor, **kw)
        if method == "pause":
            return await self._by_agent(kw.get("agent")).pause(actor, **kw)
        if method == "remove_from_queue":
            return await self._by_agent(kw.get("agent")).remove_from_queue(actor, **kw)
        if method == "hangup":
            target = self._by_call(kw.get("linkedid"), kw.get("channel"))
            return await target.hangup(actor, **kw)
        raise PbxUnavailable(f"{method!r} is not a supervisor action")

    async def spy(
        self, actor: Actor, agent: str | None, mode: str | None, phone: str | None = None
    ) -> dict[str, Any]:
        if (
            not self._here()
            and (done := await self._forward("spy", actor, agent=agent, mode=mode, phone=phone))
            is not None
        ):
            return done
        return await self._by_agent(agent).spy(actor, agent, mode, phone)

    async def pause(
        self,
        actor: Actor,
        agent: str | None,
        paused: bool,
        reason: str | None = None,
        queue: str | None = None,
    ) -> dict[str, Any]:
        if (
            not self._here()
            and (
                done := await self._forward(
                    "pause", actor, agent=agent, paused=paused, reason=reason, queue=queue
                )
            )
            is not None
        ):
            return done
        return await self._by_agent(agent).pause(actor, agent, paused, reason, queue)

    async def remove_from_queue(
        self, actor: Actor, agent: str | None, queue: str | None
    ) -> dict[str, Any]:
        if (
            not self._here()
            and (done := await self._forward("remove_from_queue", actor, agent=agent, queue=queue))
            is not None
        ):
            return done
        return await self._by_agent(agent).remove_from_queue(actor, agent, queue)

    async def hangup(
        self, actor: Actor, linkedid: str | None, channel: str | None = None
    ) -> dict[str, Any]:
        if (
            not self._here()
            and (done := await self._forward("hangup", actor, linkedid=linkedid, channel=channel))
            is not None
        ):
            return done
        return await self._by_call(linkedid, channel).hangup(actor, linkedid, channel)


def install(
    *,
    pbx: AmiActions | None,
    supervisor_actions: SupervisorActions | None,
    extras: Callable[[], Mapping[str, AmiActions | None]],
    states: States,
    consumes: Callable[[], bool],
    remote: RemoteActions | None,
) -> tuple[AmiActions | None, SupervisorActions | None]:
    """The node's PBX actions and supervisor actions, sent where they belong: unchanged
    on one node with one PBX."""
    if remote is None and len(states()) < 2:
        return pbx, supervisor_actions
    any_pbx = AnyNodeAmiActions(pbx, extras, states, consumes, remote)
    if supervisor_actions is None:
        return any_pbx, None
    local = supervisor_actions
    made: dict[str, SupervisorActions] = {}

    def others() -> Mapping[str, SupervisorActions]:
        for name, actions in extras().items():
            if name not in made and actions is not None:
                made[name] = SupervisorActions(
                    states()[name],
                    _fixed(actions),
                    local.audit,
                    spy_ring_seconds=local.spy_ring_seconds,
                )
        return made

    return any_pbx, AnyNodeSupervisorActions(
        local, others, states, consumes, remote, has_ami=pbx is not None
    )


def _fixed(actions: AmiActions) -> Callable[[], AmiActions | None]:
    return lambda: actions
