"""Shared FastAPI dependencies of the routers."""

from __future__ import annotations

from fastapi import Request

from server.service import Coordinator


def coordinator(request: Request) -> Coordinator:
    coord: Coordinator = request.app.state.coordinator
    return coord
