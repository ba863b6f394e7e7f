"""Several Asterisk servers in the web layer: each PBX's live state, the live view of
some or all of them (`GET /api/live?pbx=`, `/supervisor?pbx=`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from supervisor.live_pbxes import UnknownPbx, merge_live_views
from supervisor.service import Supervisor
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
    views = {
        name: await supervisor.live_view(state, waiting_limit=waiting_limit)
        for name, state in chosen.items()
    }
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
    shown, state = chosen_state(services, pbx if pbx in names else None)
    return await supervisor.live_view(state, waiting_limit=waiting_limit), shown, names


def first_pbx(services: WebServices) -> str | None:
    """The first PBX's name when there are several (the wallboard shows that one, as its
    pushed updates are that one's); None with one PBX."""
    names = list(pbx_states(services))
    return names[0] if len(names) > 1 else None
