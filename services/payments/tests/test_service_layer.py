"""The payments service's rules on the real database without Kafka or Midtrans: its objects come
from the composition root (`build_service`); what would be published is read from the outbox."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest

from beli_contracts import Envelope
from beli_contracts.orders import OrderCancelled, PaymentRequested, SubOrderReturned
from beli_contracts.values import Customer, PickupOutlet, PricedLine, ReturnedLine, SellerContact
from beli_runtime.clock import utcnow
from beli_runtime.errors import Refused
from beli_runtime.group_commit import GroupCommit
from payments.domain import PaymentStatus
from payments.handlers import CANCELS_AT_MIDTRANS, OPENS_LINKS, REFUNDS_UNCOLLECTED, RETURNS_LATE, PaymentsHandlers
from payments.jobs import paid
from payments.links import OpenedLink
from payments.main import PaymentsService, build_service
from payments.settings import PaymentsSettings
from payments.settlement import Confirmed
from tests.service_layer import ServiceDatabase, outbox_events, ready

pytestmark = pytest.mark.infra  # the real database (no broker, no Midtrans)

SHOPPER = Customer(name="Maria Bere", email="maria@example.id", phone="081234567890")
SELLER = SellerContact(seller_id="slr-sumba", name="Tenun Sumba", email="tenun@example.id", phone="081300000001", regency="Sumba Timur")


@pytest.fixture
async def payments(service_database: ServiceDatabase) -> AsyncIterator[PaymentsService]:
    # Midtrans is never reached in these tests: the key only lets the service start.
    service = build_service(PaymentsSettings(**service_database.settings(), midtrans_server_key="SB-Mid-server-test"))
    async with ready(service):
        yield service


def requested_event() -> PaymentRequested:
    """orders' request to pay for a new order of one line (Rp 750.000)."""
    line = PricedLine(product_id="prd-tenun", product_name="Tenun ikat", category="kain", seller=SELLER, quantity=1, unit_price=750_000)
    return PaymentRequested(
        order_id=f"ord-{uuid.uuid4().hex[:12]}",
        customer=SHOPPER,
        lines=[line],
        gross_amount=750_000,
        pay_before=utcnow() + timedelta(minutes=30),
    )


async def payment_requested(service: PaymentsService) -> str:
    """An order priced and waiting for its payment link, as orders' event records it."""
    event = requested_event()
    await handled(service, event)
    return event.order_id


OrdersEvent = PaymentRequested | OrderCancelled | SubOrderReturned


async def handled(service: PaymentsService, event: OrdersEvent) -> None:
    """The event through the handler the consumer calls, in a transaction as the consumer runs it."""
    handlers = PaymentsHandlers(service.store, service.late, service.uncollected)
    handler = handlers.subscription().handlers[event.TYPE]
    envelope = Envelope.wrap(event, key=event.order_id, source="orders")
    await service.runtime.write(lambda session: handler(envelope, event, session))


async def test_a_refund_of_an_unpaid_order_is_refused_and_records_nothing(payments: PaymentsService) -> None:
    order_id = await payment_requested(payments)
    with pytest.raises(Refused) as refused:
        await payments.refunds.request(order_id, "rf-unpaid", amount=None, lines=None, reason="pembeli membatalkan")
    assert refused.value.status == 409
    assert "only settled payments can be refunded" in refused.value.message and "cancelled instead" in refused.value.message
    assert await payments.refunds.for_order(order_id) == []
    payment = await payments.store.get(order_id)
    assert payment is not None and payment.status == "OPENING"  # the payment goes on as it was


async def test_a_refund_of_an_order_without_payment_is_not_found(payments: PaymentsService) -> None:
    with pytest.raises(Refused) as refused:
        await payments.refunds.request("ord-unknown", "rf-unknown", amount=None, lines=None, reason="salah kirim")
    assert refused.value.status == 404 and "no payment for order ord-unknown" in refused.value.message


async def test_a_levy_rule_change_writes_the_version_and_its_event_together(payments: PaymentsService) -> None:
    first = await payments.rules.create(
        rate_bps=150, category=None, regency="Sumba Timur", effective_from=None, reason="Perda PAD 2026", changed_by="operator"
    )
    second = await payments.rules.create(
        rate_bps=200, category=None, regency="Sumba Timur", effective_from=None, reason="perubahan tarif", changed_by="operator"
    )
    assert (first.version, second.version) == (1, 2) and first.rule_id == second.rule_id
    events = await outbox_events(payments.runtime.db, first.rule_id)
    assert [event.type for event in events] == ["payments.levy_rule_changed"] * 2
    assert events[1].data["current"]["rate_bps"] == 200 and events[1].data["previous"]["rate_bps"] == 150
    assert events[1].data["reason"] == "perubahan tarif"


async def test_a_refused_levy_rule_writes_neither_rule_nor_event(payments: PaymentsService) -> None:
    with pytest.raises(Refused) as refused:
        await payments.rules.create(rate_bps=150, category=None, regency="Jakarta", effective_from=None, reason="x", changed_by="operator")
    assert refused.value.status == 422 and refused.value.field == "regency"
    assert await payments.rules.history() == []
    assert await payments.runtime.db["outbox"].count_documents({}) == 0


def settlement(order_id: str, gross: int = 750_000) -> Confirmed:
    status = {"transaction_status": "settlement", "gross_amount": f"{gross}.00", "payment_type": "qris", "transaction_id": f"tx-{order_id}"}
    confirmed = paid(order_id, status)
    assert confirmed is not None
    return confirmed


async def test_payments_confirmed_together_are_each_levied_once_in_one_verified_chain(payments: PaymentsService) -> None:
    first, second, wrong_amount = [await payment_requested(payments) for _ in range(3)]
    outcomes = await payments.jobs.settlements.settle(
        [settlement(first), settlement(second), settlement(first), settlement(wrong_amount, gross=749_999)]
    )
    assert outcomes[0] == outcomes[1] == outcomes[2] and outcomes[0].startswith("settled: levy")
    assert outcomes[3].startswith("refused: Midtrans gross")
    # Confirmed again later (a repeated notification): nothing more is booked.
    assert (await payments.jobs.settlements.settle([settlement(second)]))[0].startswith("stale: settlement while SETTLED")

    verdict = await payments.ledger.verify()
    assert verdict["ok"] and verdict["entries_checked"] == 2 and verdict["head_sequence"] == 2
    for order_id in (first, second):
        entries = await payments.ledger.for_order(order_id)
        assert [entry.product_id for entry in entries] == ["prd-tenun"]
        events = [event.type for event in await outbox_events(payments.runtime.db, order_id)]
        assert events == ["payments.levy_recorded", "payments.payment_settled"]
        payment = await payments.store.get(order_id)
        assert payment is not None and payment.status == "SETTLED" and payment.levy_amount == sum(e.levy for e in entries)
    assert await payments.ledger.for_order(wrong_amount) == []
    untouched = await payments.store.get(wrong_amount)
    assert untouched is not None and untouched.status == "OPENING"


async def test_a_late_payment_in_a_batch_is_booked_and_returned_without_telling_anyone_to_ship(payments: PaymentsService) -> None:
    on_time, late = await payment_requested(payments), await payment_requested(payments)
    await payments.store.move(None, late, PaymentStatus.FAILED, frozenset({PaymentStatus.OPENING}), {"failure_reason": "kedaluwarsa"})
    outcomes = await payments.jobs.settlements.settle([settlement(on_time), settlement(late)])
    assert outcomes[0].startswith("settled") and outcomes[1].startswith("late payment, returning")
    assert [event.type for event in await outbox_events(payments.runtime.db, late)] == ["payments.levy_recorded"]
    assert [refund.id for refund in await payments.refunds.for_order(late)] == [f"{late}-return"]
    assert (await payments.ledger.verify())["ok"]


async def test_links_opened_together_are_recorded_together_each_once(payments: PaymentsService) -> None:
    first, second, failed_meanwhile = [await payment_requested(payments) for _ in range(3)]
    # As the job read them, before it opened their links; one is cancelled meanwhile.
    read = {payment.id: payment for payment in await payments.store.due_to_open(utcnow())}
    await payments.store.move(None, failed_meanwhile, PaymentStatus.FAILED, frozenset({PaymentStatus.OPENING}), {"failure_reason": "batal"})

    def opened(order_id: str) -> OpenedLink:
        answer = {"token": f"tok-{order_id}", "redirect_url": f"https://app.sandbox.midtrans.com/snap/v4/redirection/{order_id}"}
        return OpenedLink(read[order_id], answer, None)

    recorded = await payments.jobs.links.record([opened(first), opened(second), opened(first), opened(failed_meanwhile)])
    assert recorded == [True, True, False, False]
    for order_id in (first, second):
        payment = await payments.store.get(order_id)
        assert payment is not None and payment.status == "AWAITING_PAYMENT" and payment.token == f"tok-{order_id}"
        events = await outbox_events(payments.runtime.db, order_id)
        assert [event.type for event in events] == ["payments.payment_link_created"]  # once, though named twice
        assert events[0].data["token"] == f"tok-{order_id}" and events[0].data["gross_amount"] == 750_000
    untouched = await payments.store.get(failed_meanwhile)
    assert untouched is not None and untouched.status == "FAILED" and untouched.token is None
    assert await outbox_events(payments.runtime.db, failed_meanwhile) == []
    # Recorded again (another instance's late answer): nothing changes.
    assert await payments.jobs.links.record([opened(first)]) == [False]
    assert len(await outbox_events(payments.runtime.db, first)) == 1


async def test_payments_confirmed_while_a_batch_is_written_go_together_in_the_next() -> None:
    batches: list[list[str]] = []
    release = asyncio.Event()

    async def settle(batch: Sequence[Confirmed]) -> list[str]:
        batches.append([item.order_id for item in batch])
        if len(batches) == 1:
            await release.wait()
        if any(item.order_id == "ord-broken" for item in batch):
            raise ValueError("a payment that cannot be settled")
        return [f"settled {item.order_id}" for item in batch]

    queue = GroupCommit(settle, "settlement")
    first = asyncio.create_task(queue.submit(settlement("ord-1")))
    await asyncio.sleep(0)
    others = [asyncio.create_task(queue.submit(settlement(order_id))) for order_id in ("ord-2", "ord-broken", "ord-3")]
    await asyncio.sleep(0)
    release.set()
    assert await first == "settled ord-1"
    results = await asyncio.gather(*others, return_exceptions=True)
    assert results[0] == "settled ord-2" and results[2] == "settled ord-3"
    assert isinstance(results[1], ValueError)  # only the payment at fault fails; its job retries it later
    assert batches[:2] == [["ord-1"], ["ord-2", "ord-broken", "ord-3"]]  # then each on its own
    assert batches[2:] == [["ord-2"], ["ord-broken"], ["ord-3"]]


async def jobs_with_work(service: PaymentsService) -> set[str]:
    """The event-woken jobs that would find something due now (each job's own look)."""
    refunds = {
        source: await service.refunds.refunds.count_documents({"status": "REQUESTED", "source": source})
        for source in ("late_payment", "uncollected")
    }
    found = {
        "open-payment-links": bool(await service.store.due_to_open(utcnow())),
        "cancel-payments": bool(await service.store.cancellations_due()),
        "return-late-payments": refunds["late_payment"] > 0,
        "refund-uncollected-pickups": refunds["uncollected"] > 0,
    }
    return {job for job, due in found.items() if due}


async def test_each_event_wakes_exactly_the_jobs_it_creates_work_for(payments: PaymentsService) -> None:
    """A job is woken only by the event types declared for it (main.py): an event whose handler
    made work for a job that does not declare it would leave that work to the job's polling."""
    woken_by = {
        "open-payment-links": OPENS_LINKS,
        "cancel-payments": CANCELS_AT_MIDTRANS,
        "return-late-payments": RETURNS_LATE,
        "refund-uncollected-pickups": REFUNDS_UNCOLLECTED,
    }
    awaiting, settled, collected = [await payment_requested(payments) for _ in range(3)]
    assert await jobs_with_work(payments) == {"open-payment-links"} and PaymentRequested.TYPE in OPENS_LINKS
    for order_id in (awaiting, settled, collected):
        await payments.store.move(None, order_id, PaymentStatus.AWAITING, frozenset({PaymentStatus.OPENING}))
    await payments.jobs.settlements.settle([settlement(settled), settlement(collected)])
    assert await jobs_with_work(payments) == set()

    outlet = PickupOutlet(outlet_id="out-belu", name="NTT Mart Belu", regency="Belu")
    returned = ReturnedLine(product_id="prd-tenun", quantity=1)
    events: list[tuple[OrdersEvent, str]] = [
        (OrderCancelled(order_id=awaiting, customer=SHOPPER, reason="shopper_cancelled"), "cancel-payments"),
        (OrderCancelled(order_id=settled, customer=SHOPPER, reason="stock_unavailable"), "return-late-payments"),
        (
            SubOrderReturned(
                order_id=collected, seller=SELLER, customer=SHOPPER, outlet=outlet, lines=[returned], gross=750_000, returned_at=utcnow()
            ),
            "refund-uncollected-pickups",
        ),
    ]
    for event, job in events:
        before = await jobs_with_work(payments)
        await handled(payments, event)
        made = await jobs_with_work(payments) - before
        assert made == {job}, event.TYPE
        assert event.TYPE in woken_by[job], f"{event.TYPE} makes work for {job}, which it does not wake"
