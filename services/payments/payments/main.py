"""Payments service entry point: `uvicorn payments.main:app --port 8003`."""

from beli_runtime.http import create_app
from beli_runtime.service import ServiceRuntime
from payments import quote
from payments.admin_api import build_admin_router
from payments.api import build_router
from payments.audit import LevyAudit
from payments.closing import PeriodClosing
from payments.finance_api import build_finance_router
from payments.gateway import MidtransGateway
from payments.handlers import PaymentsHandlers
from payments.jobs import PaymentJobs
from payments.late import LatePayments
from payments.ledger import LevyLedger
from payments.reconcile import Reconciler
from payments.refunds import Refunds
from payments.rules import LevyRules
from payments.settings import PaymentsSettings
from payments.signing import StatementSigner
from payments.store import PaymentsStore

settings = PaymentsSettings()
runtime = ServiceRuntime(settings)
store = PaymentsStore(runtime.db)
ledger = LevyLedger(runtime.db)
gateway = MidtransGateway(settings)
rules = LevyRules(runtime, settings.pad_levy_bps)
refunds = Refunds(runtime, runtime.db, store, ledger, gateway, settings.refund_retry_seconds)
late = LatePayments(store, refunds)
jobs = PaymentJobs(runtime, store, ledger, gateway, settings, rules, refunds, late)
runtime.subscribe(PaymentsHandlers(store, late).subscription())
open_links = runtime.add_job("open-payment-links", jobs.open_links, interval=settings.payment_job_seconds)
notifications = runtime.add_job("midtrans-notifications", jobs.process_notifications, interval=settings.payment_job_seconds)
runtime.add_job("cancel-payments", jobs.cancel_requested, interval=settings.payment_job_seconds)
runtime.add_job("retry-refunds", refunds.retry_requested, interval=min(10.0, settings.refund_retry_seconds))
runtime.add_job("return-late-payments", late.send_due, interval=settings.payment_job_seconds)


async def prepare() -> None:
    await store.ensure_indexes()
    await ledger.ensure_indexes()
    await rules.ensure_indexes()
    await refunds.ensure_indexes()


app = create_app(
    title="Beli NTT — payments",
    description="Midtrans payments, the PAD levy rules and ledger, and the finance office's audit tools. "
    "`POST /midtrans/notification` is Midtrans's webhook.",
    lifespan=runtime.lifespan(prepare),
    health=runtime.health,
    max_request_bytes=settings.max_request_bytes,
)
app.include_router(build_router(store, ledger, settings, notifications.wake))
app.include_router(build_admin_router(rules, refunds, late))
app.include_router(quote.build_router(rules))
signer = StatementSigner.from_settings(settings.ledger_signing_key, settings.ledger_signing_key_file)
closing = PeriodClosing(runtime, ledger, signer)
app.include_router(build_finance_router(LevyAudit(ledger), ledger, Reconciler(store, ledger, gateway), closing))
