"""Web app entry point: `uvicorn web.main:app --port 8000`. `build_app` builds it from the settings."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from beli_runtime import heap, tracing
from beli_runtime.http import RequestLog
from beli_runtime.logs import configure_logging, get_logger
from web.backend import Backend, BackendError, SignInRequired
from web.header import header_counts
from web.pages import ROUTERS
from web.render import page
from web.security import CsrfRefused, Forbidden, LoginRedirect, csrf_protect, login_url
from web.sessions import SessionCodec, SessionMiddleware, current_session
from web.settings import WebSettings

log = get_logger(__name__)
STATIC = Path(__file__).parent / "static"


def build_app(settings: WebSettings) -> FastAPI:
    configure_logging("web", settings.log_level)
    tracing.configure("web")  # before the backend's httpx client exists: its calls carry the page's trace
    app = FastAPI(
        title="Beli NTT — web",
        lifespan=heap.settled(_lifespan(settings)),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(csrf_protect), Depends(header_counts)],
    )
    app.add_middleware(RequestLog)
    # Pages are mostly repeated markup: gzip shrinks a listing page about fivefold on slow connections.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(SessionMiddleware, codec=SessionCodec(settings.web_session_secret), force_secure=settings.web_cookie_secure)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/metrics", prometheus_metrics, methods=["GET"], include_in_schema=False)
    for error, handler in ERROR_PAGES.items():
        app.add_exception_handler(error, handler)
    tracing.instrument_app(app)
    return app


def _lifespan(settings: WebSettings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backend = Backend(settings.service_urls(), settings.backend_timeout_seconds)
        app.state.settings = settings
        yield
        await app.state.backend.close()

    return lifespan


async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def csrf_refused(request: Request, _: Exception) -> Response:
    return page(
        request,
        "error.html",
        403,
        title="Formulir kedaluwarsa",
        message="Formulir ini sudah kedaluwarsa atau tidak berasal dari halaman kami. Muat ulang halaman lalu coba lagi.",
    )


async def must_log_in(_: Request, error: Exception) -> Response:
    assert isinstance(error, LoginRedirect)
    return RedirectResponse(login_url(error.next_path), status_code=303)


async def session_expired(request: Request, _: Exception) -> Response:
    current_session(request).flash("Sesi Anda sudah berakhir. Silakan masuk lagi.", "error")
    return RedirectResponse(login_url(request.url.path if request.method == "GET" else "/"), status_code=303)


async def forbidden(request: Request, _: Exception) -> Response:
    return page(request, "error.html", 403, title="Tidak diizinkan", message="Halaman ini bukan untuk jenis akun Anda.")


async def backend_failed(request: Request, error: Exception) -> Response:
    """A service refused in a way the page did not handle itself: 404 stays 404, the rest is an
    error page that says what went wrong, never a traceback."""
    assert isinstance(error, BackendError)
    if error.status == 404:
        return page(request, "error.html", 404, title="Tidak ditemukan", message="Halaman yang Anda cari tidak ada.")
    status = 502 if error.status == 0 or error.status >= 500 else error.status
    return page(request, "error.html", status, title="Ada gangguan", message=error.message)


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 404:
        return page(request, "error.html", 404, title="Tidak ditemukan", message="Halaman yang Anda cari tidak ada.")
    return page(request, "error.html", error.status_code, title="Permintaan ditolak", message=str(error.detail))


async def unexpected(request: Request, _: Exception) -> Response:
    log.exception("web.unexpected_error", path=request.url.path)
    return page(
        request,
        "error.html",
        500,
        title="Ada gangguan",
        message="Terjadi kesalahan di pihak kami. Kami sudah mencatatnya; silakan coba lagi.",
    )


# What a refusal or failure shows: a page in Bahasa Indonesia, never a traceback or bare JSON.
ERROR_PAGES: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    CsrfRefused: csrf_refused,
    LoginRedirect: must_log_in,
    SignInRequired: session_expired,
    Forbidden: forbidden,
    BackendError: backend_failed,
    StarletteHTTPException: http_error,
    Exception: unexpected,
}

settings = WebSettings()
app = build_app(settings)
