"""Notifications service entry point: `uvicorn notifications.main:app --port 8004`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from beli_runtime.http import create_app
from beli_runtime.service import ServiceRuntime
from notifications.api import build_router
from notifications.channels import EmailTransport, ProviderTransport, Transport
from notifications.handlers import NotificationsHandlers
from notifications.rendering import Renderer
from notifications.sender import DeliveryJob
from notifications.settings import NotificationsSettings
from notifications.store import NotificationsStore

settings = NotificationsSettings()
runtime = ServiceRuntime(settings)
store = NotificationsStore(runtime.db)
runtime.subscribe(NotificationsHandlers(store, Renderer(settings.templates_dir or None), settings).subscription())

# One job (and one lease) per channel, so that each channel's pace is its own.
transports: list[Transport] = [EmailTransport(settings), ProviderTransport(settings, "whatsapp"), ProviderTransport(settings, "sms")]
jobs = [
    runtime.add_job(job.name, job.send_due, interval=settings.send_job_seconds)
    for job in (DeliveryJob(store, transport, settings) for transport in transports)
]


def wake_senders() -> None:
    for job in jobs:
        job.wake()


runtime_lifespan = runtime.lifespan(store.ensure_indexes)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with runtime_lifespan(app):
        yield
    for transport in transports:
        await transport.close()


app = create_app(
    title="Beli NTT — notifications",
    description="Messages to shoppers, sellers and finance (Bahasa Indonesia): in-app inbox, e-mail, WhatsApp, SMS.",
    lifespan=lifespan,
    health=runtime.health,
    max_request_bytes=settings.max_request_bytes,
)
app.include_router(build_router(store, settings, wake_senders))
