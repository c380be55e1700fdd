"""Notifications service entry point: `uvicorn notifications.main:app --port 8004`."""

from beli_runtime.http import create_app
from beli_runtime.service import ServiceRuntime

from notifications.api import build_router
from notifications.handlers import NotificationsHandlers
from notifications.sender import EmailSender
from notifications.settings import NotificationsSettings
from notifications.store import NotificationsStore

settings = NotificationsSettings()
runtime = ServiceRuntime(settings)
store = NotificationsStore(runtime.db)
runtime.subscribe(NotificationsHandlers(store).subscription())
runtime.add_job("send-email", EmailSender(store, settings).send_due, interval=settings.send_job_seconds)

app = create_app(
    title="Beli NTT — notifications",
    description="Messages to shoppers and sellers (Bahasa Indonesia): in-app inbox and e-mail.",
    lifespan=runtime.lifespan(store.ensure_indexes),
    health=runtime.health,
    max_request_bytes=settings.max_request_bytes,
)
app.include_router(build_router(store))
