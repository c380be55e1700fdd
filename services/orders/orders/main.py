"""Orders service entry point: `uvicorn orders.main:app --port 8002`. `build_app` and `build_service` are its
composition root (beli_runtime.entrypoint says why `app` is built on first use)."""

from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial

from fastapi import FastAPI

from beli_contracts.accounts import AccountVerified
from beli_contracts.programme import NipLinked
from beli_contracts.topics import PROGRAMME_EVENTS
from beli_runtime.clock import utcnow
from beli_runtime.entrypoint import app_on_first_use, service_app
from beli_runtime.logs import get_logger
from beli_runtime.mongo import UNAVAILABLE_ERRORS, ensure_index
from beli_runtime.service import ServiceRuntime
from orders import outlet_sales, pickup_api, shopping
from orders.api import build_router
from orders.domain import OrderStatus
from orders.fulfilment import Fulfilment, write_retrying
from orders.handlers import OrdersHandlers
from orders.outlets import OutletDirectory
from orders.pickup import Pickup, PickupCodes
from orders.settings import OrdersSettings
from orders.store import ORDERS, OrdersStore
from orders.views import OrdersPage, order_view

log = get_logger(__name__)


@dataclass
class OrdersService:
    settings: OrdersSettings
    runtime: ServiceRuntime
    store: OrdersStore
    handlers: OrdersHandlers
    fulfilment: Fulfilment
    codes: PickupCodes
    pickup: Pickup
    buyers: outlet_sales.Buyers

    async def prepare(self) -> None:
        await self.store.ensure_indexes()
        await self.codes.ensure_indexes()
        await self.buyers.ensure_indexes()
        await ensure_index(self.store.orders, [("outlet_id", 1), ("created_at", -1)])  # an outlet's in-store sales


def build_service(settings: OrdersSettings) -> OrdersService:
    runtime = ServiceRuntime(settings, embedded_outboxes=[ORDERS])
    store = OrdersStore(runtime.db, timedelta(hours=settings.idempotency_key_hours))
    outlets = OutletDirectory(runtime.db)
    handlers = OrdersHandlers(store, runtime.outbox, outlets)
    fulfilment = Fulfilment(store, runtime.outbox)
    handlers.at_till = fulfilment.hand_over_at_till  # an in-store sale's goods leave the till once paid
    pickup = Pickup(store, runtime.outbox, fulfilment, outlets, settings)
    buyers = outlet_sales.Buyers(runtime.db)
    return OrdersService(settings, runtime, store, handlers, fulfilment, PickupCodes(runtime.db), pickup, buyers)


def build_app(settings: OrdersSettings) -> FastAPI:
    service = build_service(settings)
    subscription = service.handlers.subscription()
    subscription.handlers[AccountVerified.TYPE] = service.buyers.on_account_verified  # one consumer group: one subscription
    subscription.handlers[NipLinked.TYPE] = service.buyers.on_nip_linked
    subscription = replace(subscription, topics=(*subscription.topics, PROGRAMME_EVENTS))
    service.runtime.subscribe(subscription)
    # Time alone makes these jobs' work due (a deadline passing): no consumed event wakes them.
    service.runtime.add_job("stuck-order-sweeper", partial(cancel_stuck_orders, service), interval=settings.sweep_seconds)
    service.runtime.add_job("auto-complete", partial(auto_complete_shipped, service), interval=settings.auto_complete_sweep_seconds)
    service.runtime.add_job("pickup-reminders", partial(remind_pickups, service), interval=settings.pickup_reminder_sweep_seconds)
    app = service_app(
        service,
        title="Beli NTT — orders",
        description="Checkout and order lifecycle. `POST /orders` needs an `Idempotency-Key` header; keys are kept 24 hours.",
    )
    app.include_router(build_router(service.runtime, service.store, service.handlers, service.fulfilment, settings, service.codes))
    app.include_router(pickup_api.build_router(service.runtime, service.store, service.pickup, service.handlers.outlets))
    app.include_router(shopping.build_router(service.runtime.db, settings, OrdersPage, order_view))
    app.include_router(outlet_sales.build_router(service.runtime, service.store, service.buyers, service.handlers))
    return app


async def cancel_stuck_orders(service: OrdersService) -> bool:
    now = utcnow()
    settings = service.settings
    stuck = await service.store.stuck(
        now - timedelta(minutes=settings.pending_timeout_minutes), now - timedelta(minutes=settings.payment_grace_minutes)
    )
    for order in stuck:
        pending = order["status"] == OrderStatus.PENDING.value
        reason, detail = (
            ("checkout_timeout", "the catalog did not answer in time")
            if pending
            else ("payment_expired", "no payment decision arrived before the deadline")
        )
        cancel = partial(service.handlers.cancel, order_id=order["_id"], reason=reason, detail=detail, correlation_id=order["_id"])
        await service.runtime.write(cancel)
    return bool(stuck)


async def auto_complete_shipped(service: OrdersService) -> bool:
    """Sub-orders SHIPPED for longer than AUTO_COMPLETE_DAYS complete as if the shopper confirmed."""
    cutoff = utcnow() - timedelta(days=service.settings.auto_complete_days)
    due = await service.store.shipped_before(cutoff, limit=100)
    completed = 0
    for order_id in due:
        try:
            complete = partial(service.fulfilment.auto_complete, order_id=order_id, shipped_before=cutoff)
            completed += await write_retrying(service.runtime, complete)
        except UNAVAILABLE_ERRORS:
            raise
        except Exception:  # one bad order must not hold back the others; it is retried next round
            log.exception("orders.auto_complete_failed", order_id=order_id)
    return len(due) == 100 and completed > 0  # a full batch that made progress: there may be more


async def remind_pickups(service: OrdersService) -> bool:
    """Parcels waiting at an outlet whose collection deadline is within PICKUP_REMINDER_DAYS."""
    due = await service.store.pickup_reminders_due(utcnow(), limit=100)
    reminded = 0
    for order_id in due:
        try:
            reminded += await write_retrying(service.runtime, partial(service.pickup.remind, order_id=order_id))
        except UNAVAILABLE_ERRORS:
            raise
        except Exception:  # one bad order must not hold back the others; it is retried next round
            log.exception("orders.pickup_reminder_failed", order_id=order_id)
    return len(due) == 100 and reminded > 0


__getattr__ = app_on_first_use(lambda: build_app(OrdersSettings()))
