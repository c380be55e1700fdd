"""The `app` of a service's `main` module, built when it is first asked for.

Each service's `main.py` is its composition root: `build_service(settings)` builds the service's
objects (runtime, stores, rules), `build_app(settings)` those plus the consumers, jobs and routes
of the app; nothing is wired at import time. uvicorn runs `<service>.main:app`; tests import the same module for its composition root
(`build_app`, `build_service`) with settings of their own. Building `app` at import time would
read the environment and connect for them, and fail where the environment is not a service's
(payments refuses to start without its Midtrans key), so `app` is built on first use instead.
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from functools import cache
from typing import Protocol

from fastapi import FastAPI

from beli_runtime.bodies import LargeBody
from beli_runtime.http import create_app
from beli_runtime.service import ServiceRuntime
from beli_runtime.settings import ServiceSettings


def app_on_first_use(build: Callable[[], FastAPI]) -> Callable[[str], FastAPI]:
    """A module `__getattr__`: `__getattr__ = app_on_first_use(lambda: build_app(Settings()))`
    makes `module.app` the app `build` returns, built once."""
    built = cache(build)

    def attribute(name: str) -> FastAPI:
        if name == "app":
            return built()
        raise AttributeError(name)

    return attribute


class BuiltService(Protocol):
    """What a service's `build_service` returns: its settings, its runtime and its objects."""

    @property
    def settings(self) -> ServiceSettings: ...

    @property
    def runtime(self) -> ServiceRuntime: ...

    async def prepare(self) -> None:
        """The service's own indexes (the runtime adds the outbox's and the inbox's)."""


def service_app(
    service: BuiltService,
    *,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    large_bodies: Sequence[LargeBody] = (),
) -> FastAPI:
    """The service's HTTP app, run by its runtime (indexes, consumers, jobs), with the service's
    objects in `app.state.service`. `lifespan`: one that wraps the runtime's own."""
    app = create_app(
        title=title,
        description=description,
        lifespan=lifespan or service.runtime.lifespan(service.prepare),
        health=service.runtime.health,
        max_request_bytes=service.settings.max_request_bytes,
        large_bodies=large_bodies,
    )
    app.state.service = service
    return app
