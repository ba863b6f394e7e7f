"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from fastapi import Request

if TYPE_CHECKING:
    from trubka.services import Services


def get_services(request: Request) -> Services:
    return cast("Services", request.app.state.services)
