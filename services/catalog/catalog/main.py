"""Catalog service entry point: `uvicorn catalog.main:app --port 8001`. `build_app` and `build_service` are its
composition root (beli_runtime.entrypoint says why `app` is built on first use)."""

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from fastapi import FastAPI

from beli_runtime.auth import Role
from beli_runtime.bodies import LargeBody
from beli_runtime.clock import utcnow
from beli_runtime.entrypoint import app_on_first_use, service_app
from beli_runtime.service import ServiceRuntime
from catalog.accounts import Accounts
from catalog.api import build_router
from catalog.domain import HoldLimits
from catalog.handlers import CatalogHandlers
from catalog.listings import Listings
from catalog.outlets import OutletStore
from catalog.settings import CatalogSettings
from catalog.store import CatalogStore


@dataclass
class CatalogService:
    settings: CatalogSettings
    runtime: ServiceRuntime
    store: CatalogStore
    handlers: CatalogHandlers
    accounts: Accounts
    outlets: OutletStore

    async def prepare(self) -> None:
        """The service's own indexes (the runtime adds the outbox's and the inbox's), and the
        first operator account when the settings name one."""
        settings, accounts = self.settings, self.accounts
        await self.store.ensure_indexes()
        await accounts.ensure_indexes()
        await self.outlets.seed()  # the 22 NTT Mart outlets, once
        if settings.bootstrap_admin_email and not await accounts.accounts.find_one({"role": Role.ADMIN.value}):
            await accounts.create_staff(
                Role.ADMIN,
                "Operator Beli NTT",
                settings.bootstrap_admin_email,
                "0800000000",
                settings.bootstrap_admin_password,
                check_policy=False,  # the operator's own setting, not a user's choice
            )


def build_service(settings: CatalogSettings) -> CatalogService:
    runtime = ServiceRuntime(settings)
    store = CatalogStore(runtime.db)
    handlers = CatalogHandlers(
        store,
        runtime.outbox,
        timedelta(minutes=settings.unpaid_hold_minutes),
        HoldLimits(per_product=settings.hold_limit_per_product, per_shopper=settings.hold_limit_per_shopper),
    )
    accounts = Accounts(runtime.db, runtime.write, runtime.outbox, settings.login_limits(), settings.refresh_reuse_leeway_seconds)
    outlets = OutletStore(runtime.db, runtime.outbox, runtime.write)
    return CatalogService(settings, runtime, store, handlers, accounts, outlets)


def build_app(settings: CatalogSettings) -> FastAPI:
    service = build_service(settings)
    runtime = service.runtime
    runtime.subscribe(service.handlers.subscription())
    # A hold running out, not a consumed event, makes its work due: no event wakes it.
    runtime.add_job("reservation-sweeper", partial(release_expired_reservations, service), interval=settings.reservation_sweep_seconds)
    app = service_app(
        service,
        title="Beli NTT — catalog",
        description="UMKM sellers and their products, stock and reservations.",
        large_bodies=[LargeBody("POST", "/products/{product_id}/photos", settings.max_photo_request_bytes)],
    )
    app.state.store = service.store  # for the ownership checks in catalog.access
    app.include_router(build_router(Listings(service.store, runtime.outbox, runtime.write), service.accounts, service.outlets))
    return app


async def release_expired_reservations(service: CatalogService) -> bool:
    """Stock held for an order that never got a payment decision goes back on sale."""
    expired = await service.store.expired_reservations(utcnow())
    for order_id in expired:
        await service.runtime.write(partial(service.handlers.release, order_id=order_id, reason="reservation_expired"))
    return bool(expired)


__getattr__ = app_on_first_use(lambda: build_app(CatalogSettings()))
