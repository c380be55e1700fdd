"""The HTTP face every service shares: errors that name the bad field, body limits (size and
JSON depth, see bodies.py), health, metrics, logs."""

import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from beli_runtime import heap, metrics, tracing
from beli_runtime.bodies import BodyGuard, LargeBody
from beli_runtime.errors import Refused
from beli_runtime.logs import get_logger
from beli_runtime.mongo import UNAVAILABLE_ERRORS, database_unavailable

log = get_logger("http")


class ApiError(Refused):
    """A refusal raised by a route itself, with what only HTTP has: response headers and extra
    fields in the body (e.g. the order an Idempotency-Key already names)."""

    def __init__(self, status: int, message: str, *, field: str | None = None, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(status, message, field)
        self.headers = headers  # e.g. Retry-After on a 429
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return super().body() | self.extra


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error any service answers: a message for people, and the fields at fault."""

    message: str
    errors: list[FieldProblem] | None = None


# Documented on every route so that clients (and schemathesis) know what refusals look like.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Malformed request (e.g. a missing header or unparsable body)",
        401: "No access token, or an invalid or expired one",
        403: "The token's role may not do this",
        404: "No such resource",
        409: "Conflicts with the current state",
        413: "Request body too large",
        415: "Unsupported content type",
        422: "Invalid field values; `errors` names each field",
        503: "A dependency (the database) is unavailable; retry later",
    }.items()
}


# Reported but not failing /healthz: while Kafka is away the outbox keeps events and the service
# still takes orders; taking it out of the load balancer would turn a broker outage into a full one.
ADVISORY_CHECKS = frozenset({"kafka"})


def create_app(
    *,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    health: Callable[[], Awaitable[dict[str, Any]]],
    max_request_bytes: int,
    large_bodies: Sequence[LargeBody] = (),
) -> FastAPI:
    """`large_bodies`: the routes allowed more than `max_request_bytes` (photo uploads)."""
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=heap.settled(lifespan),
        responses=ERROR_RESPONSES,
        docs_url=None,
        redoc_url=None,
    )
    _offline_docs(app)
    app.add_middleware(RequestLog)
    app.add_middleware(BodyGuard, max_bytes=max_request_bytes, large=large_bodies)
    _install_error_handlers(app)

    @app.get("/healthz", tags=["ops"], summary="Liveness and dependencies")
    async def healthz() -> JSONResponse:
        checks = await health()
        healthy = all(value == "ok" for name, value in checks.items() if name not in ADVISORY_CHECKS)
        return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks}, status_code=200 if healthy else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    tracing.instrument_app(app)
    return app


def _offline_docs(app: FastAPI) -> None:
    """/docs with Swagger UI served from the swagger-ui-bundle package: FastAPI's default loads
    it from a CDN, which leaves the page blank without internet (a locked-down data centre)."""
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def _install_error_handlers(app: FastAPI) -> None:
    # Every Refused (ApiError and the services' own refusals alike) answers as it stands.
    @app.exception_handler(Refused)
    async def refused(_: Request, error: Refused) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [{"field": _field_path(item["loc"]), "message": item["msg"]} for item in error.errors()]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        return JSONResponse({"message": f"invalid request: {summary}", "errors": problems}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"message": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        if database_unavailable(error):
            return _database_down(error)
        log.exception("http.unexpected_error")
        return JSONResponse({"message": "internal error; it has been logged"}, status_code=500)

    for unavailable in UNAVAILABLE_ERRORS:

        @app.exception_handler(unavailable)
        async def database_down(_: Request, error: Exception) -> JSONResponse:
            return _database_down(error)


def _database_down(error: Exception) -> JSONResponse:
    log.warning("http.database_unavailable", error=str(error)[:300])
    return JSONResponse(
        {"message": "the database is unavailable right now; please retry shortly"}, status_code=503, headers={"Retry-After": "5"}
    )


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location if part not in ("body",)]
    return ".".join(parts) or "body"


class RequestLog:
    """Counts, times and logs every request (Prometheus and the JSON log), and tells the client
    how long it took on the server (`Server-Timing: app;dur=12.3`: the web page budget benchmark
    reads it; browsers show it in their developer tools)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed_ms = (time.perf_counter() - started) * 1000
                message["headers"] = [*message.get("headers", []), (b"server-timing", f"app;dur={elapsed_ms:.1f}".encode())]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels(scope["method"], path, str(status)).inc()
            metrics.HTTP_LATENCY.labels(scope["method"], path).observe(elapsed)
            if path not in ("/metrics", "/healthz"):
                log.info("http.request", method=scope["method"], path=scope["path"], status=status, ms=round(elapsed * 1000, 1))
