"""Several Asterisk servers in the web layer: each PBX's live state, the live view of
some or all of them (`GET /api/live?pbx=`, `/supervisor?pbx=`, `/wallboard`).

On a node that does not consume AMI (a cluster's web node) each PBX's view is the one
the node consuming AMI pushed (`ClusterView.live_document` for the first PBX,
`pbx_live_documents` for the others); a PBX whose picture has not come yet shows this
node's own (empty) live state."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from supervisor.errors import TargetNotFound
from supervisor.live_pbxes import UnknownPbx, merge_live_views
from supervisor.service import Supervisor
from telephony.pbx_routing import present
from telephony.reducer import CallState
from web.i18n import N_
from web.ports import WebServices

NO_SUCH_PBX = N_("no such PBX")


def pbx_states(services: WebServices) -> Mapping[str, CallState]:
    """Every PBX's live state by name, the primary first (one `default` for a fake)."""
    states: Mapping[str, CallState] | None = getattr(services, "pbx_states", None)
    return states if states else {"default": services.live}


def chosen_state(services: WebServices, pbx: str | None) -> tuple[str, CallState]:
    """The named PBX's live state (the primary's when `pbx` is None); a name Trubka does
    not serve is refused, naming the field."""
    states = pbx_states(services)
    if pbx is None:
        name = next(iter(states))
        return name, states[name]
    state = states.get(pbx)
    if state is None:
        raise UnknownPbx(NO_SUCH_PBX)
    return pbx, state


def mirrored_views(services: WebServices) -> dict[str, dict[str, Any]]:
    """Each PBX's pushed live view by name (empty: this node makes its own views)."""
    cluster = services.cluster
    if cluster is None:
        return {}
    first = cluster.live_document()  # None while this node consumes AMI
    if first is None:
        return {}
    names = list(pbx_states(services))
    others: Callable[[], dict[str, dict[str, Any]]] | None = getattr(
        cluster, "pbx_live_documents", None
    )
    views = {names[0]: first}
    if others is not None:
        views.update((name, view) for name, view in others().items() if name in names[1:])
    return views


async def views_of(
    services: WebServices,
    supervisor: Supervisor,
    names: Iterable[str],
    *,
    waiting_limit: int | None = None,
) -> dict[str, dict[str, Any]]:
    """The live view of each PBX named: pushed by the node consuming AMI, or this node's."""
    mirrored = mirrored_views(services)
    states = pbx_states(services)
    views: dict[str, dict[str, Any]] = {}
    for name in names:
        view = mirrored.get(name)
        if view is None:
            view = await supervisor.live_view(states[name], waiting_limit=waiting_limit)
        views[name] = view
    return views


async def live_of_pbxes(
    services: WebServices,
    supervisor: Supervisor,
    pbx: str | None,
    *,
    waiting_limit: int | None = None,
) -> dict[str, Any]:
    """`GET /api/live`: as it always was with one PBX and no filter; with several (or a
    filter) the PBXes' documents merged, every queue, agent and alert naming its `pbx`."""
    states = pbx_states(services)
    if pbx is None and len(states) == 1:
        return await supervisor.live_view(services.live, waiting_limit=waiting_limit)
    if pbx is not None:
        name, state = chosen_state(services, pbx)
        chosen = {name: state}
    else:
        chosen = dict(states)
    views = await views_of(services, supervisor, chosen, waiting_limit=waiting_limit)
    return merge_live_views(views, list(states))


async def page_live_view(
    services: WebServices, supervisor: Supervisor, pbx: str | None, waiting_limit: int
) -> tuple[dict[str, Any], str, list[str]] | None:
    """The supervisor page's picture with several PBXes: the one chosen (the first by
    default; an unknown name is the first too), its name, every name. None with one PBX:
    the page shows the usual view."""
    names = list(pbx_states(services))
    if len(names) < 2:
        return None
    shown, _state = chosen_state(services, pbx if pbx in names else None)
    views = await views_of(services, supervisor, [shown], waiting_limit=waiting_limit)
    return views[shown], shown, names


NOT_ON_PBX = N_("the agent's phone is not on this PBX")
CALL_NOT_ON_PBX = N_("the call is not on this PBX")


def _first_with(states: Mapping[str, CallState], has: Callable[[CallState], bool]) -> str:
    return next((name for name, state in states.items() if has(state)), next(iter(states)))


def check_action_pbx(
    services: WebServices,
    pbx: str | None,
    *,
    agent: str | None = None,
    linkedid: str | None = None,
    channel: str | None = None,
) -> None:
    """A supervisor action that names its PBX (`"pbx"` of `POST /api/supervisor/…`, as
    the supervisor page sends it) goes there or nowhere: the actions go to the PBX where
    the agent's phone (or the call, or the channel) is (`trubka.cluster.anynode`), so one
    that is elsewhere now is refused (nothing is sent). No `pbx`: nothing is checked."""
    if pbx is None:
        return
    states = pbx_states(services)
    if pbx not in states:
        raise UnknownPbx(NO_SUCH_PBX)
    if len(states) < 2:
        return
    if agent is not None:
        wanted = agent.strip()
        home = _first_with(states, lambda s: present(s.agent_for(wanted)))
        if home != pbx:
            raise TargetNotFound(NOT_ON_PBX, code="agent_not_found", field="pbx")
        return
    if channel and channel.strip():
        name = channel.strip()
        home = _first_with(states, lambda s: any(c.name == name for c in s.channels.values()))
    elif linkedid and linkedid.strip():
        home = _first_with(states, lambda s: linkedid.strip() in s.calls)
    else:
        return
    if home != pbx:
        raise TargetNotFound(CALL_NOT_ON_PBX, code="call_not_found", field="pbx")


async def wallboard_views(
    services: WebServices, supervisor: Supervisor, pbx: str | None, waiting_limit: int
) -> list[dict[str, Any]] | None:
    """The wallboard with several PBXes: every PBX's view, or the one `?pbx=` names (an
    unknown name: every one). Each `{"pbx": name, "feed": the tag of its pushed updates
    (None for the first), "live": its view}`. None with one PBX: the usual wallboard."""
    names = list(pbx_states(services))
    if len(names) < 2:
        return None
    shown = [pbx] if pbx in names else names
    views = await views_of(services, supervisor, shown, waiting_limit=waiting_limit)
    return [
        {"pbx": name, "feed": None if name == names[0] else name, "live": views[name]}
        for name in shown
    ]


def summed_totals(views: list[dict[str, Any]]) -> dict[str, Any]:
    """The wallboard's head over several PBXes: waiting and talking added, the longest
    wait the longest of all."""
    totals = [view["live"].get("totals") or {} for view in views]
    since = [t["longest_wait_since"] for t in totals if t.get("longest_wait_since")]
    return {
        "waiting": sum(int(t.get("waiting") or 0) for t in totals),
        "talking": sum(int(t.get("talking") or 0) for t in totals),
        "longest_wait_seconds": max(
            (t.get("longest_wait_seconds") or 0 for t in totals), default=0
        ),
        "longest_wait_since": min(since) if since else None,
    }
