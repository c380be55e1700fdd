"""Orders service entry point: `uvicorn orders.main:app --port 8002`."""

from datetime import timedelta

from beli_runtime.http import create_app
from beli_runtime.service import ServiceRuntime

from orders.api import build_router
from orders.handlers import OrdersHandlers
from orders.settings import OrdersSettings
from orders.store import OrdersStore

settings = OrdersSettings()
runtime = ServiceRuntime(settings)
store = OrdersStore(runtime.db, timedelta(hours=settings.idempotency_key_hours))
handlers = OrdersHandlers(store, runtime.outbox, timedelta(minutes=settings.payment_window_minutes))
runtime.subscribe(handlers.subscription())

app = create_app(
    title="Beli NTT — orders",
    description="Checkout and order lifecycle. `POST /orders` needs an `Idempotency-Key` header; keys are kept 24 hours.",
    lifespan=runtime.lifespan(store.ensure_indexes),
    health=runtime.health,
    max_request_bytes=settings.max_request_bytes,
)
app.include_router(build_router(runtime, store, handlers, settings))
