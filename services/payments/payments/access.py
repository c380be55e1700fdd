"""Who may call what. Roles (issue #4) do not exist yet: `require_role` is the seam where the
check goes, and today it lets every caller through. Routes already declare the role they need,
so adding authentication changes this file only."""

from collections.abc import Callable

from fastapi import Request

OPERATOR = "operator"
FINANCE = "finance"
SELLER = "seller"


def require_role(role: str) -> Callable[[Request], None]:
    def check(request: Request) -> None:
        # No authentication yet: accept everyone. Replace with a real check in issue #4.
        request.state.required_role = role

    return check


def actor(request: Request) -> str:
    """Who did it, for the record (rule changes, closings). Anonymous until issue #4."""
    return request.headers.get("X-Actor", "anonymous")[:100] or "anonymous"
