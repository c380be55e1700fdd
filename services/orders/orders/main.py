"""Orders service entry point: `uvicorn orders.main:app --port 8002`."""

from datetime import timedelta
from functools import partial

from beli_runtime.clock import utcnow
from beli_runtime.http import create_app
from beli_runtime.logs import get_logger
from beli_runtime.mongo import UNAVAILABLE_ERRORS
from beli_runtime.service import ServiceRuntime
from orders import shopping
from orders.api import build_router
from orders.domain import OrderStatus
from orders.fulfilment import Fulfilment, write_retrying
from orders.handlers import OrdersHandlers
from orders.settings import OrdersSettings
from orders.store import OrdersStore
from orders.views import OrdersPage, order_view

log = get_logger(__name__)
settings = OrdersSettings()
runtime = ServiceRuntime(settings)
store = OrdersStore(runtime.db, timedelta(hours=settings.idempotency_key_hours))
handlers = OrdersHandlers(store, runtime.outbox)
runtime.subscribe(handlers.subscription())
fulfilment = Fulfilment(store, runtime.outbox)


async def cancel_stuck_orders() -> bool:
    now = utcnow()
    stuck = await store.stuck(
        now - timedelta(minutes=settings.pending_timeout_minutes), now - timedelta(minutes=settings.payment_grace_minutes)
    )
    for order in stuck:
        pending = order["status"] == OrderStatus.PENDING.value
        reason, detail = (
            ("checkout_timeout", "the catalog did not answer in time")
            if pending
            else ("payment_expired", "no payment decision arrived before the deadline")
        )
        await runtime.write(partial(handlers.cancel, order_id=order["_id"], reason=reason, detail=detail, correlation_id=order["_id"]))
    return bool(stuck)


runtime.add_job("stuck-order-sweeper", cancel_stuck_orders, interval=settings.sweep_seconds)


async def auto_complete_shipped() -> bool:
    """Sub-orders SHIPPED for longer than AUTO_COMPLETE_DAYS complete as if the shopper confirmed."""
    cutoff = utcnow() - timedelta(days=settings.auto_complete_days)
    due = await store.shipped_before(cutoff, limit=100)
    completed = 0
    for order_id in due:
        try:
            completed += await write_retrying(runtime, partial(fulfilment.auto_complete, order_id=order_id, shipped_before=cutoff))
        except UNAVAILABLE_ERRORS:
            raise
        except Exception:  # one bad order must not hold back the others; it is retried next round
            log.exception("orders.auto_complete_failed", order_id=order_id)
    return len(due) == 100 and completed > 0  # a full batch that made progress: there may be more


runtime.add_job("auto-complete", auto_complete_shipped, interval=settings.auto_complete_sweep_seconds)

app = create_app(
    title="Beli NTT — orders",
    description="Checkout and order lifecycle. `POST /orders` needs an `Idempotency-Key` header; keys are kept 24 hours.",
    lifespan=runtime.lifespan(store.ensure_indexes),
    health=runtime.health,
    max_request_bytes=settings.max_request_bytes,
)
app.include_router(build_router(runtime, store, handlers, fulfilment, settings))
app.include_router(shopping.build_router(runtime.db, settings, OrdersPage, order_view))
