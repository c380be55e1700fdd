"""Payments service entry point: `uvicorn payments.main:app --port 8003`. `build_app` and `build_service` are its
composition root (beli_runtime.entrypoint says why `app` is built on first use)."""

from dataclasses import dataclass

from fastapi import FastAPI

from beli_runtime.entrypoint import app_on_first_use, service_app
from beli_runtime.jobs import BackgroundJob
from beli_runtime.service import ServiceRuntime
from payments import outlet_api, quote
from payments.admin_api import build_admin_router
from payments.api import build_router
from payments.audit import LevyAudit
from payments.cash_refunds import CashRefunds
from payments.closing import PeriodClosing
from payments.finance_api import build_finance_router
from payments.gateway import MidtransGateway
from payments.handlers import CANCELS_AT_MIDTRANS, OPENS_LINKS, REFUNDS_UNCOLLECTED, RETURNS_LATE, PaymentsHandlers
from payments.jobs import PaymentJobs
from payments.late import LatePayments
from payments.ledger import LevyLedger
from payments.receipts import NotificationReceipts
from payments.reconcile import Reconciler
from payments.refunds import Refunds
from payments.rules import LevyRules
from payments.settings import PaymentsSettings
from payments.signing import StatementSigner
from payments.store import PaymentsStore
from payments.uncollected import UncollectedReturns


@dataclass
class PaymentsService:
    settings: PaymentsSettings
    runtime: ServiceRuntime
    store: PaymentsStore
    ledger: LevyLedger
    gateway: MidtransGateway
    rules: LevyRules
    refunds: Refunds
    late: LatePayments
    jobs: PaymentJobs
    uncollected: UncollectedReturns
    receipts: NotificationReceipts

    async def prepare(self) -> None:
        await self.store.ensure_indexes()
        await self.ledger.ensure_indexes()
        await self.rules.ensure_indexes()
        await self.refunds.ensure_indexes()


def build_service(settings: PaymentsSettings) -> PaymentsService:
    runtime = ServiceRuntime(settings)
    store = PaymentsStore(runtime.db)
    ledger = LevyLedger(runtime.db)
    gateway = MidtransGateway(settings)
    rules = LevyRules(runtime, settings.pad_levy_bps)
    refunds = Refunds(runtime, runtime.db, store, ledger, gateway, settings.refund_retry_seconds)
    late = LatePayments(store, refunds)
    receipts = NotificationReceipts(store)
    jobs = PaymentJobs(runtime, store, ledger, gateway, settings, rules, refunds, late, receipts)
    uncollected = UncollectedReturns(refunds)
    return PaymentsService(settings, runtime, store, ledger, gateway, rules, refunds, late, jobs, uncollected, receipts)


def build_app(settings: PaymentsSettings) -> FastAPI:
    service = build_service(settings)
    service.runtime.subscribe(PaymentsHandlers(service.store, service.late, service.uncollected).subscription())
    notifications = _jobs(service)
    app = service_app(
        service,
        title="Beli NTT — payments",
        description="Midtrans payments, the PAD levy rules and ledger, and the finance office's audit tools. "
        "`POST /midtrans/notification` is Midtrans's webhook.",
    )
    _routers(app, service, notifications)
    return app


def _jobs(service: PaymentsService) -> BackgroundJob:
    """Starts the background jobs; returns the one that handles Midtrans's notifications (the
    webhook wakes it)."""
    runtime, jobs, interval = service.runtime, service.jobs, service.settings.payment_job_seconds
    gather = service.settings.step_gather_seconds
    runtime.add_job("open-payment-links", jobs.open_links, interval=interval, woken_by=OPENS_LINKS, gather=gather)
    notifications = runtime.add_job("midtrans-notifications", jobs.process_notifications, interval=interval, gather=gather)
    runtime.add_job("cancel-payments", jobs.cancel_requested, interval=interval, woken_by=CANCELS_AT_MIDTRANS)
    runtime.add_job("retry-refunds", service.refunds.retry_requested, interval=min(10.0, service.settings.refund_retry_seconds))
    late = runtime.add_job("return-late-payments", service.late.send_due, interval=interval, woken_by=RETURNS_LATE)
    jobs.settlements.late_booked = late.wake  # a late payment settled by a job: its return goes out at once
    runtime.add_job("refund-uncollected-pickups", service.uncollected.send_due, interval=interval, woken_by=REFUNDS_UNCOLLECTED)
    return notifications


def _routers(app: FastAPI, service: PaymentsService, notifications: BackgroundJob) -> None:
    settings, ledger = service.settings, service.ledger
    app.include_router(build_router(service.store, service.receipts, ledger, settings, notifications.wake))
    app.include_router(build_admin_router(service.rules, service.refunds, service.late))
    cash_refunds = CashRefunds(service.runtime, service.store, service.refunds)
    app.include_router(outlet_api.build_router(service.store, service.jobs, cash_refunds))
    app.include_router(quote.build_router(service.rules))
    signer = StatementSigner.from_settings(settings.ledger_signing_key, settings.ledger_signing_key_file)
    closing = PeriodClosing(service.runtime, ledger, signer)
    reconciler = Reconciler(service.store, ledger, service.gateway)
    app.include_router(build_finance_router(LevyAudit(ledger), ledger, reconciler, closing))


__getattr__ = app_on_first_use(lambda: build_app(PaymentsSettings()))
