"""The counts in the page header (unread messages, cart lines), read for every page a
signed-in user opens. A service that does not answer leaves its count out; the page still works."""

from __future__ import annotations

from starlette.requests import Request

from web.backend import BackendError, SignInRequired
from web.deps import backend
from web.sessions import current_session


async def header_counts(request: Request) -> None:
    session = current_session(request)
    if request.method != "GET" or not session.signed_in or request.url.path.startswith(("/foto/", "/static/", "/healthz")):
        return
    api = backend(request)

    try:
        request.state.unread_count = (await api.get(session, "notifications", "/notifications/unread-count"))["unread"]
        if session.role == "shopper":
            request.state.cart_count = len((await api.get(session, "orders", "/cart"))["items"])
    except (BackendError, SignInRequired):
        return
