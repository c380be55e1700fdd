"""What a page function needs: the backend client and the session."""

from __future__ import annotations

from starlette.requests import Request

from web.backend import Backend


def backend(request: Request) -> Backend:
    return request.app.state.backend
