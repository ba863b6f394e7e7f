"""`/api/status` and the admin dashboard on a node that does not consume AMI.

Such a node's own live state is empty: its live calls and agent counts come from the
live view the node consuming AMI pushes (`supervisor.live_mirror.LiveMirror`, through
`ClusterView.live_document`), and the answer says where the live state is
(`live_source`):

* `{"source": "local", "ami_node": <this node or null>}` — this node's own live state
  (it consumes AMI, or it runs alone);
* `{"source": "mirror", "ami_node": <the node consuming AMI>, "as_of": <ISO time>}` —
  the mirror of that node's live view as of its last push (`as_of`). The node consuming
  AMI pushes it while a supervisor watches the live view on some node; a read here with
  nobody watching counts as one watcher for 15 s and waits up to a second for the whole
  picture (`refresh`);
* `{"source": "none", "ami_node": null}` — no node consumes AMI now (or its first
  picture has not come yet): this node's own live state answers (empty: it does not
  consume AMI).

The mirrored rows are those the live view has: calls agents ring for or talk on and
callers waiting in queues (the first 50 of each queue). An agent sees their own calls
and those linked to a contact, as the calls rule (`crm.call_access`) says.
"""

from __future__ import annotations

from typing import Any

from crm.call_access import is_manager
from crm.users import UserInfo
from kernel.agents import agent_key
from supervisor.live_pbxes import merge_live_views
from web.i18n import N_
from web.pbxes import mirrored_views, pbx_states

OFFLINE = ("logged_out", "unavailable")


async def refresh(services: Any) -> None:
    """Before reading the mirror: have the node consuming AMI push its live view now
    when nobody watches it here (`ClusterView.fresh_live_document`)."""
    cluster = getattr(services, "cluster", None)
    if cluster is not None:
        await cluster.fresh_live_document()


def live_source(services: Any) -> dict[str, Any]:
    cluster = getattr(services, "cluster", None)
    if cluster is None:
        return {"source": "local", "ami_node": None}
    status = cluster.status()
    if status.get("producing"):
        return {"source": "local", "ami_node": status.get("node")}
    document = cluster.live_document()
    if document is None:
        return {"source": "none", "ami_node": None}
    return {
        "source": "mirror",
        "ami_node": status.get("ami_node"),
        "as_of": document.get("generated_at"),
    }


def mirrored(services: Any) -> dict[str, Any] | None:
    """The pushed live view when this node shows another node's (None: this node's own
    live state answers: it consumes AMI, runs alone, or no picture came)."""
    cluster = getattr(services, "cluster", None)
    if cluster is None:
        return None
    document: dict[str, Any] | None = cluster.live_document()  # None while producing
    if document is None:
        return None
    views = mirrored_views(services)  # several PBXes: every one's pushed view, merged
    if len(views) > 1:
        return merge_live_views(views, list(pbx_states(services)))
    return document


def mirrored_calls(document: dict[str, Any], user: UserInfo) -> list[dict[str, Any]]:
    """The live calls of `/api/status` from the pushed live view."""
    manager = is_manager(user)
    mine = {agent_key(i) for i in user.interfaces}
    rows: dict[str, dict[str, Any]] = {}
    for agent in document.get("agents") or ():
        call = agent.get("current_call")
        if not call or not call.get("linkedid"):
            continue
        own = agent_key(str(agent.get("interface") or "")) in mine
        if not (manager or own or call.get("contact")):
            continue
        row = rows.get(call["linkedid"])
        if row is not None and row["state"] == N_("talking"):
            continue
        rows[call["linkedid"]] = {
            "linkedid": call["linkedid"],
            "caller_number": call.get("caller_number"),
            "caller_name": call.get("caller_name"),
            "queue": call.get("queue"),
            "agent": agent.get("name") or agent.get("interface"),
            "state": N_("talking") if call.get("state") == "talking" else N_("ringing"),
            "started_at": call.get("since"),
            "seconds": call.get("seconds"),
        }
    for queue in document.get("queues") or ():
        for entry in queue.get("waiting") or ():
            linkedid = entry.get("linkedid")
            if not linkedid or linkedid in rows or not (manager or entry.get("contact")):
                continue
            rows[linkedid] = {
                "linkedid": linkedid,
                "caller_number": entry.get("caller_number"),
                "caller_name": entry.get("caller_name"),
                "queue": queue.get("queue"),
                "agent": None,
                "state": N_("queued"),
                "started_at": entry.get("joined_at"),
                "seconds": entry.get("wait_seconds"),
            }
    return sorted(rows.values(), key=lambda r: str(r["started_at"] or ""))


def mirrored_counts(document: dict[str, Any]) -> tuple[int, set[str]]:
    """The admin dashboard's live figures from the pushed view: the agents online and
    the queues' names."""
    agents = document.get("agents") or ()
    online = sum(1 for a in agents if a.get("state") not in OFFLINE)
    return online, {str(q.get("queue")) for q in document.get("queues") or ()}
