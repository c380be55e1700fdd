"""What payments' job steps and consumer transactions cost the database (issue 11), on the real
database with Midtrans played by a fake that answers each call after its own delay: the links
and settlements of one step share one transaction (one lease fence, one ledger append) though
Midtrans answers them one after another; the rules are read again only after they change, even
when another instance changes them; the payment requests of one consumer transaction are
recorded with one write. Operations are counted by the server's `top` command."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from beli_contracts import Envelope
from beli_contracts.orders import OrderCancelled, PaymentRequested
from beli_runtime.leases import Lease
from beli_runtime.mongo import Session
from payments.domain import PaymentStatus
from payments.handlers import PaymentsHandlers
from payments.main import PaymentsService, build_service
from payments.receipts import NotificationReceipts
from payments.rules import LevyRules
from payments.settings import PaymentsSettings
from services.payments.tests.test_service_layer import SHOPPER, payment_requested, requested_event
from tests.service_layer import ServiceDatabase, ready

pytestmark = pytest.mark.infra  # the real database (no broker, no Midtrans)


class FakeMidtrans:
    """Answers each order after the delay given for it, `concurrency` calls at a time (the jobs'
    bound): the answers of one step come one after another, as Midtrans's do."""

    def __init__(self, delays: dict[str, float], concurrency: int = 2) -> None:
        self.delays = delays
        self.concurrency = concurrency

    async def status(self, order_id: str) -> dict[str, Any]:
        await asyncio.sleep(self.delays[order_id])
        return {"transaction_status": "settlement", "gross_amount": "750000.00", "payment_type": "qris", "transaction_id": f"tx-{order_id}"}

    async def create_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        order_id = request["transaction_details"]["order_id"]
        await asyncio.sleep(self.delays[order_id])
        return {"token": f"tok-{order_id}", "redirect_url": f"https://app.sandbox.midtrans.com/snap/v4/redirection/{order_id}"}


@pytest.fixture
async def payments(service_database: ServiceDatabase) -> AsyncIterator[PaymentsService]:
    # A linger far longer than the fake's delays: the step's answers always meet in one batch.
    settings = PaymentsSettings(**service_database.settings(), midtrans_server_key="SB-Mid-server-test", step_linger_seconds=5.0)
    service = build_service(settings)
    async with ready(service):
        yield service


async def operations(service: PaymentsService) -> dict[str, int]:
    """Commands the database received so far, by collection of this service's database."""
    top = await service.runtime.client.admin.command("top")
    prefix = f"{service.runtime.db.name}."
    return {name.removeprefix(prefix): int(counts["total"]["count"]) for name, counts in top["totals"].items() if name.startswith(prefix)}


async def counted(service: PaymentsService, step: Any) -> tuple[Any, dict[str, int]]:
    """Run a job's step under its lease (as BackgroundJob does); what it returned and the
    operations it cost, by collection."""
    lease = Lease(service.runtime.db, "job:test", 60)
    assert await lease.acquire()
    before = await operations(service)
    async with lease.holding():
        result = await step()
    after = await operations(service)
    await lease.release()
    return result, {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}


async def awaiting_with_notification(service: PaymentsService, receipts: NotificationReceipts | None = None) -> str:
    """An order whose Snap link is open and whose payment Midtrans has just notified (to this
    instance's webhook, or to the one whose `receipts` are given)."""
    order_id = await payment_requested(service)
    await service.store.move(None, order_id, PaymentStatus.AWAITING, frozenset({PaymentStatus.OPENING}))
    await (receipts or service.receipts).record({"order_id": order_id, "transaction_status": "settlement", "status_code": "200"})
    return order_id


async def test_the_payments_a_step_confirms_one_after_another_settle_in_one_transaction(payments: PaymentsService) -> None:
    orders = [await awaiting_with_notification(payments) for _ in range(5)]
    payments.jobs.gateway = FakeMidtrans({order_id: 0.02 * number for number, order_id in enumerate(orders)})  # type: ignore[assignment]

    more, cost = await counted(payments, payments.jobs.process_notifications)

    assert more is False, "a step that took every due notification says there is nothing more"
    for order_id in orders:
        payment = await payments.store.get(order_id)
        assert payment is not None and payment.status == "SETTLED" and payment.levy_amount == 7_500
    verdict = await payments.ledger.verify()
    assert verdict["ok"] and verdict["entries_checked"] == len(orders)
    assert cost["leases"] == 1, f"one lease fence for the step: {cost}"
    assert cost["levy_ledger_meta"] == 2, f"one claim and one move of the ledger's head: {cost}"
    assert cost["levy_rules"] == 1 and cost["levy_entries"] == 1, cost
    assert await payments.store.notifications_due() == []


async def test_the_notifications_the_webhook_stored_are_acted_on_without_reading_them_back(payments: PaymentsService) -> None:
    """The job is handed what this instance's webhook stored; what another instance stored is
    still found, by the look the job takes when nothing was handed (or every `look_every`)."""
    payments.receipts = payments.jobs.receipts = NotificationReceipts(payments.store, look_every=60.0)
    elsewhere = NotificationReceipts(payments.store)  # another instance's webhook
    first = await awaiting_with_notification(payments, elsewhere)
    payments.jobs.gateway = FakeMidtrans({first: 0.0})  # type: ignore[assignment]
    _, cost = await counted(payments, payments.jobs.process_notifications)
    assert cost["midtrans_notifications"] == 2, f"the first step reads the notifications, then marks them: {cost}"

    handed = [await awaiting_with_notification(payments) for _ in range(3)]
    stored_elsewhere = await awaiting_with_notification(payments, elsewhere)
    payments.jobs.gateway = FakeMidtrans(dict.fromkeys([*handed, stored_elsewhere], 0.0))  # type: ignore[assignment]
    _, cost = await counted(payments, payments.jobs.process_notifications)
    assert cost["midtrans_notifications"] == 1, f"the handed notifications were read back: {cost}"
    assert [(await payments.store.get(order_id)).status for order_id in handed] == ["SETTLED"] * 3  # type: ignore[union-attr]

    _, cost = await counted(payments, payments.jobs.process_notifications)  # nothing handed: it looks
    assert cost["midtrans_notifications"] == 2, cost
    payment = await payments.store.get(stored_elsewhere)
    assert payment is not None and payment.status == "SETTLED", "a notification another instance stored was never acted on"
    assert await payments.store.notifications_due() == []


class PaidDuringTheCheck(FakeMidtrans):
    """Midtrans says `pending`, and the shopper pays while it answers: the settlement's
    notification reaches another instance's webhook before the job has recorded what the check
    said (so it is not handed to this job: only its look finds it)."""

    def __init__(self, service: PaymentsService, order_id: str) -> None:
        super().__init__({order_id: 0.0})
        self.elsewhere, self.answers = NotificationReceipts(service.store), ["pending"]

    async def status(self, order_id: str) -> dict[str, Any]:
        answer = await super().status(order_id)
        if self.answers:
            body = {"order_id": order_id, "transaction_status": "settlement", "status_code": "200", "transaction_id": "tx-paid"}
            await self.elsewhere.record(body)
            return answer | {"transaction_status": self.answers.pop()}
        return answer


async def test_a_notification_stored_while_its_order_is_checked_is_acted_on(payments: PaymentsService) -> None:
    order_id = await payment_requested(payments)
    await payments.store.move(None, order_id, PaymentStatus.AWAITING, frozenset({PaymentStatus.OPENING}))
    await payments.receipts.record({"order_id": order_id, "transaction_status": "pending", "status_code": "201"})
    payments.jobs.gateway = PaidDuringTheCheck(payments, order_id)  # type: ignore[assignment]

    await counted(payments, payments.jobs.process_notifications)  # checks the pending one
    await counted(payments, payments.jobs.process_notifications)  # nothing handed: it looks

    payment = await payments.store.get(order_id)
    assert payment is not None and payment.status == "SETTLED", "the settlement's notification was taken as answered"
    assert await payments.store.notifications_due() == []


async def test_the_rules_are_read_again_only_after_a_change_even_by_another_instance(payments: PaymentsService) -> None:
    first = await awaiting_with_notification(payments)
    payments.jobs.gateway = FakeMidtrans({first: 0.0})  # type: ignore[assignment]
    await counted(payments, payments.jobs.process_notifications)

    second = await awaiting_with_notification(payments)
    payments.jobs.gateway = FakeMidtrans({second: 0.0})  # type: ignore[assignment]
    _, cost = await counted(payments, payments.jobs.process_notifications)
    assert "levy_rules" not in cost, f"the rules were read again though none changed: {cost}"

    # Another instance (its own process, its own cache) raises Sumba Timur's rate.
    other = LevyRules(payments.runtime, payments.settings.pad_levy_bps)
    await other.create(rate_bps=250, category=None, regency="Sumba Timur", effective_from=None, reason="Perda baru", changed_by="operator")
    third = await awaiting_with_notification(payments)
    payments.jobs.gateway = FakeMidtrans({third: 0.0})  # type: ignore[assignment]
    _, cost = await counted(payments, payments.jobs.process_notifications)

    levies = [(await payments.ledger.for_order(order_id))[0] for order_id in (first, second, third)]
    assert [entry.levy for entry in levies] == [7_500, 7_500, 18_750], "the new rule is not applied to the next settlement"
    assert cost["levy_rules"] == 1, cost


async def test_the_links_a_step_opens_one_after_another_are_recorded_in_one_transaction(payments: PaymentsService) -> None:
    orders = [await payment_requested(payments) for _ in range(5)]
    payments.jobs.gateway = FakeMidtrans({order_id: 0.02 * number for number, order_id in enumerate(orders)})  # type: ignore[assignment]

    more, cost = await counted(payments, payments.jobs.open_links)

    assert more is False
    for order_id in orders:
        payment = await payments.store.get(order_id)
        assert payment is not None and payment.status == "AWAITING_PAYMENT" and payment.token == f"tok-{order_id}"
    assert cost["leases"] == 1, f"one lease fence for the step: {cost}"
    assert cost["payments"] == 2, f"the step's look and one write of the moves, no second read: {cost}"
    assert cost["outbox"] == 1, cost


async def test_the_payment_requests_of_one_consumer_transaction_are_recorded_with_one_write(payments: PaymentsService) -> None:
    handlers = PaymentsHandlers(payments.store, payments.late, payments.uncollected)
    subscription = handlers.subscription()
    requested = [requested_event() for _ in range(3)]
    cancelled = OrderCancelled(order_id=requested[2].order_id, customer=SHOPPER, reason="shopper_cancelled")
    events: Sequence[PaymentRequested | OrderCancelled] = [*requested, cancelled]

    async def consumed(session: Session) -> None:  # as inbox.py runs a batch's handlers
        async with subscription.scope(session, list(events)):
            for event in events:
                envelope = Envelope.wrap(event, key=event.order_id, source="orders")
                await subscription.handlers[event.TYPE](envelope, event, session)

    before = await operations(payments)
    await payments.runtime.write(consumed)
    after = await operations(payments)

    assert after["payments"] - before.get("payments", 0) == 1 + 2, "one write for the requests, then the cancellation's own"
    statuses = [(await payments.store.get(event.order_id)) for event in requested]
    assert [payment.status if payment else None for payment in statuses] == ["OPENING", "OPENING", "FAILED"]
