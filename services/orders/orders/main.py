"""Orders service entry point: `uvicorn orders.main:app --port 8002`."""

from datetime import timedelta

from beli_runtime.clock import utcnow
from beli_runtime.http import create_app
from beli_runtime.service import ServiceRuntime

from orders.api import build_router
from orders.domain import OrderStatus
from orders.handlers import OrdersHandlers
from orders.settings import OrdersSettings
from orders.store import OrdersStore

settings = OrdersSettings()
runtime = ServiceRuntime(settings)
store = OrdersStore(runtime.db, timedelta(hours=settings.idempotency_key_hours))
handlers = OrdersHandlers(store, runtime.outbox, timedelta(minutes=settings.payment_window_minutes))
runtime.subscribe(handlers.subscription())


async def cancel_stuck_orders() -> bool:
    now = utcnow()
    stuck = await store.stuck(now - timedelta(minutes=settings.pending_timeout_minutes),
                              now - timedelta(minutes=settings.payment_grace_minutes))
    for order in stuck:
        pending = order["status"] == OrderStatus.PENDING.value
        reason, detail = ("checkout_timeout", "the catalog did not answer in time") if pending else (
            "payment_expired", "no payment decision arrived before the deadline")
        await runtime.write(lambda session, order_id=order["_id"], reason=reason, detail=detail:
                            handlers.cancel(session, order_id, reason, detail, order_id))
    return bool(stuck)


runtime.add_job("stuck-order-sweeper", cancel_stuck_orders, interval=settings.sweep_seconds)

app = create_app(
    title="Beli NTT — orders",
    description="Checkout and order lifecycle. `POST /orders` needs an `Idempotency-Key` header; keys are kept 24 hours.",
    lifespan=runtime.lifespan(store.ensure_indexes),
    health=runtime.health,
    max_request_bytes=settings.max_request_bytes,
)
app.include_router(build_router(runtime, store, handlers, settings))
