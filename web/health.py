"""`GET /healthz` (live) and `GET /readyz` (ready) for load balancers and orchestrators:
JSON, no sign-in, never cached. What each checks is the node's (`trubka.node.Node`);
a node without the `web` role serves these, `/metrics` and nothing else
(:func:`create_probe_app`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from web import metrics

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
router = APIRouter()

NO_STORE = {"Cache-Control": "no-store"}


class NodeProbe(Protocol):
    """What the probes ask the node (`trubka.node.Node` has it)."""

    def liveness(self) -> dict[str, Any]: ...
    async def readiness(self) -> tuple[bool, dict[str, Any]]: ...


def _node(request: Request) -> NodeProbe | None:
    node: NodeProbe | None = getattr(request.app.state.services, "node", None)
    return node


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> JSONResponse:
    node = _node(request)
    body = node.liveness() if node is not None else {"status": "ok"}
    return JSONResponse(body, headers=NO_STORE)


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    node = _node(request)
    if node is None:
        return JSONResponse({"status": "ready"}, headers=NO_STORE)
    ready, body = await node.readiness()
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)


def create_probe_app(services: Any, *, lifespan: Lifespan | None = None) -> FastAPI:
    """The HTTP server of a node without the `web` role: health and metrics only."""
    app = FastAPI(
        title="Trubka node", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    app.state.services = services
    app.include_router(router)
    app.include_router(metrics.router)
    return app
