"""Notifications service entry point: `uvicorn notifications.main:app --port 8004`. `build_app` and `build_service` are its
composition root (beli_runtime.entrypoint says why `app` is built on first use)."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from beli_runtime.entrypoint import app_on_first_use, service_app
from beli_runtime.service import ServiceRuntime
from notifications.api import build_router
from notifications.channels import EmailTransport, ProviderTransport, Transport
from notifications.handlers import NotificationsHandlers
from notifications.migrations import migrate
from notifications.preferences import SavedPreferences
from notifications.rendering import Renderer
from notifications.sender import DeliveryJob
from notifications.settings import NotificationsSettings
from notifications.store import NotificationsStore


@dataclass
class NotificationsService:
    settings: NotificationsSettings
    runtime: ServiceRuntime
    store: NotificationsStore
    saved: SavedPreferences
    handlers: NotificationsHandlers
    transports: list[Transport]
    sender: DeliveryJob | None = None

    async def prepare(self) -> None:
        await self.store.ensure_indexes()
        await migrate(self.store)
        await self.saved.load()


def build_service(settings: NotificationsSettings) -> NotificationsService:
    runtime = ServiceRuntime(settings)
    store = NotificationsStore(runtime.db)
    saved = SavedPreferences(store, runtime.client)
    handlers = NotificationsHandlers(store, saved, Renderer(settings.templates_dir or None), settings)
    transports: list[Transport] = [EmailTransport(settings), ProviderTransport(settings, "whatsapp"), ProviderTransport(settings, "sms")]
    return NotificationsService(settings, runtime, store, saved, handlers, transports)


def build_app(settings: NotificationsSettings) -> FastAPI:
    service = build_service(settings)
    service.runtime.subscribe(service.handlers.subscription())
    # One job (and one lease) sends on every channel; each channel keeps its own bound of sends in flight.
    sender = DeliveryJob(service.store, service.transports, settings)
    # Woken by the sender itself for what an event's consumer left due (handlers.py sends the rest).
    job = service.runtime.add_job(sender.name, sender.send_due, interval=settings.send_job_seconds)
    sender.wake = job.wake
    service.sender = service.handlers.sender = sender

    app = service_app(
        service,
        title="Beli NTT — notifications",
        description="Messages to shoppers, sellers and finance (Bahasa Indonesia): in-app inbox, e-mail, WhatsApp, SMS.",
        lifespan=_lifespan(service),
    )
    app.include_router(build_router(service.store, service.saved, settings, job.wake))
    return app


def _lifespan(service: NotificationsService) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The runtime's lifespan, then the transports' connections are closed."""
    runtime_lifespan = service.runtime.lifespan(service.prepare)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app):
            yield
            if service.sender is not None:
                await service.sender.stop()  # before the runtime closes the database
        for transport in service.transports:
            await transport.close()

    return lifespan


__getattr__ = app_on_first_use(lambda: build_app(NotificationsSettings()))
