"""The payments service's rules on the real database without Kafka or Midtrans: its objects come
from the composition root (`build_service`); what would be published is read from the outbox."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from beli_contracts.orders import PaymentRequested
from beli_contracts.values import Customer, PricedLine, SellerContact
from beli_runtime.clock import utcnow
from beli_runtime.errors import Refused
from payments.main import PaymentsService, build_service
from payments.settings import PaymentsSettings
from tests.service_layer import ServiceDatabase, outbox_events, ready

pytestmark = pytest.mark.infra  # the real database (no broker, no Midtrans)

SELLER = SellerContact(seller_id="slr-sumba", name="Tenun Sumba", email="tenun@example.id", phone="081300000001", regency="Sumba Timur")


@pytest.fixture
async def payments(service_database: ServiceDatabase) -> AsyncIterator[PaymentsService]:
    # Midtrans is never reached in these tests: the key only lets the service start.
    service = build_service(PaymentsSettings(**service_database.settings(), midtrans_server_key="SB-Mid-server-test"))
    async with ready(service):
        yield service


async def payment_requested(service: PaymentsService) -> str:
    """An order priced and waiting for its payment link, as orders' event records it."""
    order_id = f"ord-{uuid.uuid4().hex[:12]}"
    line = PricedLine(product_id="prd-tenun", product_name="Tenun ikat", category="kain", seller=SELLER, quantity=1, unit_price=750_000)
    event = PaymentRequested(
        order_id=order_id,
        customer=Customer(name="Maria Bere", email="maria@example.id", phone="081234567890"),
        lines=[line],
        gross_amount=750_000,
        pay_before=utcnow() + timedelta(minutes=30),
    )
    assert await service.runtime.write(lambda session: service.store.open(session, event))
    return order_id


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
