"""The card's call controls (hang up, hold, transfer) from any node, on the call's PBX.

`web.panel.controls.CallControls` checks a call against the live state and then acts on
the PBX. `RoutedCallControls` runs it where the call is: on the node consuming AMI,
over the live state of the PBX that has the call up (the primary's when none has); on
another node it sends the request with the user (`trubka.cluster.remote`, operation
`ctl`) and answers what that node answers, errors included (the same classes: the same
HTTP status and message, in the user's language). With no node consuming AMI it acts
here as before (a node without an AMI link answers "not in progress" or "not connected").
The calls on hold are remembered by the node that put them on hold (the same dict as
the web app's on that node).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from crm.models import Role
from crm.users import UserInfo
from telephony.errors import NotConnected
from telephony.reducer import CallState
from trubka.cluster.anynode import NoProducer, no_producer, pbx_of_call
from trubka.cluster.remote import RemoteActions
from web.panel.controls import CallControls, Held

METHODS = frozenset({"hangup", "hold", "unhold", "targets", "transfer"})


def user_json(user: UserInfo) -> dict[str, Any]:
    body = user.to_json()
    body["last_sign_in_at"] = None
    return body


def user_from(body: Mapping[str, Any]) -> UserInfo:
    return UserInfo(
        id=int(body["id"]),
        login=str(body["login"]),
        name=str(body["name"]),
        role=Role(body["role"]),
        language=str(body["language"]),
        active=bool(body["active"]),
        interfaces=tuple(str(i) for i in body.get("interfaces") or ()),
        queues=tuple(str(q) for q in body.get("queues") or ()),
        version=int(body["version"]),
        last_sign_in_at=_when(body.get("last_sign_in_at")),
    )


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class _OnPbx:
    """The services as `CallControls` reads them, with another PBX's live state."""

    def __init__(self, services: Any, live: CallState) -> None:
        self._services = services
        self.live = live

    def __getattr__(self, name: str) -> Any:
        return getattr(self._services, name)


class ControlsRouter:
    """Builds the call controls of a request and serves other nodes' requests."""

    def __init__(
        self,
        services: Any,
        states: Callable[[], Mapping[str, CallState]],
        consumes: Callable[[], bool],
        remote: RemoteActions | None,
    ) -> None:
        self.services = services
        self.states = states
        self.consumes = consumes
        self.remote = remote
        self.held: dict[str, Held] = {}  # the web app's dict of calls on hold, shared
        if remote is not None:
            remote.register("ctl", self._serve)

    def controls(self, held: dict[str, Held]) -> CallControls:
        self.held = held
        return RoutedCallControls(self.services, held, self)

    def local(self, linkedid: str) -> CallControls:
        """Controls over the live state of the PBX that has the call up."""
        name = pbx_of_call(self.states(), linkedid)
        services = self.services
        if name is not None and self.states()[name] is not services.live:
            services = _OnPbx(services, self.states()[name])
        return CallControls(services, self.held)

    async def run(self, method: str, user: UserInfo, linkedid: str, **kw: Any) -> Any:
        if self.remote is not None and not self.consumes():
            body = {"m": method, "user": user_json(user), "linkedid": linkedid, "kw": kw}
            try:
                return await self.remote.call("ctl", body, no_producer)
            except NoProducer:
                pass  # nobody consumes AMI: this node answers as it always did
        return await getattr(self.local(linkedid), method)(user, linkedid, **kw)

    async def _serve(self, args: dict[str, Any]) -> Any:
        method = str(args.get("m"))
        if method not in METHODS:
            raise NotConnected(f"{method!r} is not a call control")
        user = user_from(args.get("user") or {})
        linkedid = str(args.get("linkedid"))
        kw = dict(args.get("kw") or {})
        return await getattr(self.local(linkedid), method)(user, linkedid, **kw)


class RoutedCallControls(CallControls):
    def __init__(self, services: Any, held: dict[str, Held], router: ControlsRouter) -> None:
        super().__init__(services, held)
        self.router = router

    async def hangup(self, user: UserInfo, linkedid: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self.router.run("hangup", user, linkedid)
        return answer

    async def hold(self, user: UserInfo, linkedid: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self.router.run("hold", user, linkedid)
        return answer

    async def unhold(self, user: UserInfo, linkedid: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self.router.run("unhold", user, linkedid)
        return answer

    async def targets(self, user: UserInfo, linkedid: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self.router.run("targets", user, linkedid)
        return answer

    async def transfer(
        self, user: UserInfo, linkedid: str, target: dict[str, Any], mode: str
    ) -> dict[str, Any]:
        answer: dict[str, Any] = await self.router.run(
            "transfer", user, linkedid, target=target, mode=mode
        )
        return answer
