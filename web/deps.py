"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from web.ports import WebServices


def get_services(request: Request) -> WebServices:
    return cast("WebServices", request.app.state.services)
