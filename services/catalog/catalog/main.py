"""Catalog service entry point: `uvicorn catalog.main:app --port 8001`."""

from datetime import timedelta
from functools import partial

from beli_runtime.auth import Role
from beli_runtime.bodies import LargeBody
from beli_runtime.clock import utcnow
from beli_runtime.http import create_app
from beli_runtime.service import ServiceRuntime
from catalog.accounts import Accounts
from catalog.api import build_router
from catalog.domain import HoldLimits
from catalog.handlers import CatalogHandlers
from catalog.listings import Listings
from catalog.outlets import OutletStore
from catalog.settings import CatalogSettings
from catalog.store import CatalogStore

settings = CatalogSettings()
runtime = ServiceRuntime(settings)
store = CatalogStore(runtime.db)
handlers = CatalogHandlers(
    store,
    runtime.outbox,
    timedelta(minutes=settings.unpaid_hold_minutes),
    HoldLimits(per_product=settings.hold_limit_per_product, per_shopper=settings.hold_limit_per_shopper),
)
runtime.subscribe(handlers.subscription())


async def release_expired_reservations() -> bool:
    """Stock held for an order that never got a payment decision goes back on sale."""
    expired = await store.expired_reservations(utcnow())
    for order_id in expired:
        await runtime.write(partial(handlers.release, order_id=order_id, reason="reservation_expired"))
    return bool(expired)


accounts = Accounts(runtime.db, runtime.write, runtime.outbox, settings.login_limits(), settings.refresh_reuse_leeway_seconds)
outlets = OutletStore(runtime.db, runtime.outbox, runtime.write)


async def prepare() -> None:
    await store.ensure_indexes()
    await accounts.ensure_indexes()
    await outlets.seed()  # the 22 NTT Mart outlets, once
    if settings.bootstrap_admin_email and not await accounts.accounts.find_one({"role": Role.ADMIN.value}):
        await accounts.create_staff(
            Role.ADMIN,
            "Operator Beli NTT",
            settings.bootstrap_admin_email,
            "0800000000",
            settings.bootstrap_admin_password,
            check_policy=False,  # the operator's own setting, not a user's choice
        )


runtime.add_job("reservation-sweeper", release_expired_reservations, interval=settings.reservation_sweep_seconds)

app = create_app(
    title="Beli NTT — catalog",
    description="UMKM sellers and their products, stock and reservations.",
    lifespan=runtime.lifespan(prepare),
    health=runtime.health,
    max_request_bytes=settings.max_request_bytes,
    large_bodies=[LargeBody("POST", "/products/{product_id}/photos", settings.max_photo_request_bytes)],
)
app.state.store = store  # for the ownership checks in catalog.access
app.include_router(build_router(Listings(store, runtime.outbox, runtime.write), accounts, outlets))
