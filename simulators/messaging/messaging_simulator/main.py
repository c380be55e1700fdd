"""App factory: the provider API and the SMTP mailbox in one process.

Run with `uvicorn messaging_simulator.main:app --port 8006` (SMTP on MESSAGING_SMTP_PORT).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI

from .api import router
from .settings import Settings
from .smtp import start_smtp
from .store import State

log = structlog.get_logger("messaging_simulator")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    state = State(keep=settings.keep)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The SMTP server shares the HTTP server's loop, so both see the same in-memory state.
        smtp = await start_smtp(settings, state)
        log.info("simulator_started", smtp_port=settings.smtp_port)
        try:
            yield
        finally:
            if smtp is not None:
                smtp.close()
                await smtp.wait_closed()

    app = FastAPI(title="WhatsApp/SMS provider and SMTP mailbox simulator (Beli NTT)", lifespan=lifespan)
    app.state.messaging = state
    app.state.settings = settings
    app.include_router(router)
    return app


app = create_app()
