"""Request bodies are checked before any route sees them: size first, then JSON nesting depth.

- Size: 64 KiB unless a route is named as taking more (photo uploads); 413 before the body is
  read into memory when Content-Length says so, and as soon as the streamed bytes pass it.
- Depth: a JSON body nested deeper than `MAX_JSON_DEPTH` gets a 400 before it is parsed.
  Python's parser recurses per level, so `[[[[…` 3,000 deep raised RecursionError (a 500) in
  routes that parse bodies themselves, e.g. the Midtrans webhook before its signature check.

Only imports Starlette, so the simulators can use it without the rest of the runtime.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
# A string literal, or an unterminated one up to the end (so a stray quote never makes the
# scan quadratic); brackets inside strings are not nesting.
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass(frozen=True)
class LargeBody:
    """A route allowed a bigger body, e.g. `LargeBody("POST", "/products/{product_id}/photos", 2_162_688)`."""

    method: str
    path: str  # a route template: {name} matches one path segment
    max_bytes: int

    def matches(self, method: str, path: str) -> bool:
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(self.path))
        return method == self.method and re.fullmatch(pattern, path) is not None


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays/objects nest more than `limit` levels (the body need not be valid JSON)."""
    brackets = _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= limit:
        return False
    depth = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        if depth > limit:
            return True
    return False


class BodyGuard:
    """ASGI middleware: body size limit (per route) and JSON depth limit."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BYTES, large: Sequence[LargeBody] = (), max_depth: int = MAX_JSON_DEPTH):
        self.app = app
        self.max_bytes = max_bytes
        self.large = tuple(large)
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next((r.max_bytes for r in self.large if r.matches(scope["method"], scope["path"])), self.max_bytes)
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, f"request body is larger than {limit} bytes")
            return
        if _is_form(headers.get(b"content-type", b"")):
            await self._stream(scope, receive, send, limit)
            return
        body = await _read(receive, limit)
        if body is None:
            await _refuse(send, 413, f"request body is larger than {limit} bytes")
        elif json_too_deep(body, self.max_depth):
            await _refuse(send, 400, f"the JSON body is nested more than {self.max_depth} levels deep")
        else:
            await self.app(scope, _replay(body, receive), send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Uploads are not JSON: count the bytes as they stream, without holding them here."""
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await _refuse(send, 413, f"request body is larger than {limit} bytes")


def _is_form(content_type: bytes) -> bool:
    return content_type.lower().startswith((b"multipart/", b"application/x-www-form-urlencoded"))


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it passes `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replay


async def _refuse(send: Send, status: int, message: str) -> None:
    response = JSONResponse({"message": message}, status_code=status)
    await response({"type": "http"}, _no_receive, send)


class _TooLarge(Exception):
    pass


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
