"""The `app` of a service's `main` module, built when it is first asked for.

uvicorn runs `<service>.main:app`; tests import the same module for its composition root
(`build_app`, `build_service`) with settings of their own. Building `app` at import time would
read the environment and connect for them, and fail where the environment is not a service's
(payments refuses to start without its Midtrans key), so `app` is built on first use instead.
"""

from collections.abc import Callable
from functools import cache

from fastapi import FastAPI


def app_on_first_use(build: Callable[[], FastAPI]) -> Callable[[str], FastAPI]:
    """A module `__getattr__`: `__getattr__ = app_on_first_use(lambda: build_app(Settings()))`
    makes `module.app` the app `build` returns, built once."""
    built = cache(build)

    def attribute(name: str) -> FastAPI:
        if name == "app":
            return built()
        raise AttributeError(name)

    return attribute
