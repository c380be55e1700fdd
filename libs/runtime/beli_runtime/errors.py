"""The one refusal type. Rules (domain modules, services) raise `Refused` and the HTTP layer
answers it as it stands (beli_runtime.http), so no route translates errors one by one.

Free of FastAPI and every other dependency: pure domain modules may raise it too.
"""

from typing import Any


class Refused(Exception):
    """A request the rules refuse: the HTTP status that says why (a 4xx; 503 when something it
    needs is missing), a message for people, and the field at fault when there is one."""

    headers: dict[str, str] | None = None  # response headers, e.g. Retry-After on a 429

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        """The error body every service answers (beli_runtime.http.ErrorBody)."""
        body: dict[str, Any] = {"message": self.message}
        if self.field:
            body["errors"] = [{"field": self.field, "message": self.message}]
        return body
