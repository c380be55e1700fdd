"""The checkout saga end to end, driven only through the HTTP contract, on real Kafka and the
real database: the simulator plays Midtrans."""

import asyncio
import hashlib
import uuid

from payments.domain import levy_for
from tests.support import Api, System, eventually, payments_caught_up


async def test_paid_order_moves_stock_records_levy_and_notifies_everyone(api: Api) -> None:
    tenun_seller = await api.seller("Sumba Timur")
    coffee_seller = await api.seller("Ngada")
    tenun = await api.product(tenun_seller, price=750_000, stock=5, category="tenun", name="Kain tenun ikat Sumba motif kuda")
    coffee = await api.product(coffee_seller, price=85_050, stock=40, category="kopi", name="Kopi Arabika Bajawa 250 g")
    shopper = api.shopper()

    placed = await api.place([(tenun["id"], 2), (coffee["id"], 3)], customer=shopper)
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "PENDING"
    order_id = placed.json()["id"]

    order = await api.payable(order_id)
    assert order["status"] == "AWAITING_PAYMENT"
    assert order["total"] == 2 * 750_000 + 3 * 85_050
    assert order["payment"]["redirect_url"].endswith(order["payment"]["token"])
    assert (await api.stock_of(tenun["id"]))["stock"] == 3  # held while awaiting payment

    await api.pay(order_id, "settlement")
    paid = await api.order_reaches(order_id, "PAID")

    expected_levy = levy_for(1_500_000, 100) + levy_for(255_150, 100)
    assert paid["levy_total"] == expected_levy == 15_000 + 2_552  # 2551.5 rounds half-up
    entries = await api.levy_entries(order_id)
    assert len(entries["items"]) == 2
    assert {(e["product_id"], e["gross"], e["levy"], e["seller_payable"]) for e in entries["items"]} == {
        (tenun["id"], 1_500_000, 15_000, 1_485_000),
        (coffee["id"], 255_150, 2_552, 252_598),
    }
    assert entries["total_levy"] + entries["total_seller_payable"] == paid["total"]

    payment = (await api.payments.get(f"/payments/{order_id}")).json()
    assert (payment["status"], payment["gross_amount"], payment["levy_amount"]) == ("SETTLED", paid["total"], expected_levy)

    tenun_after = await eventually(lambda: api.stock_of(tenun["id"]), lambda p: p["sold"] == 2, what="reservation committed")
    assert (tenun_after["stock"], tenun_after["reserved"]) == (3, 0)

    # The shopper's inbox also holds the payment link message (issue #6): pick the receipt.
    inbox = await eventually(
        lambda: api.inbox(shopper["email"]), lambda m: any(x["kind"] == "payment_receipt" for x in m), what="shopper receipt"
    )
    receipt = [m for m in inbox if m["kind"] == "payment_receipt"]
    assert len(receipt) == 1
    assert "Rp1.755.150" in receipt[0]["text"] and "kontribusi PAD" in receipt[0]["text"] and "Rp17.552" in receipt[0]["text"]
    for seller, payable in ((tenun_seller, "Rp1.485.000"), (coffee_seller, "Rp252.598")):
        inbox = await eventually(lambda s=seller: api.inbox(s["email"]), lambda m: len(m) == 1, what="seller message")
        assert inbox[0]["kind"] == "seller_new_paid_order"
        assert payable in inbox[0]["text"]


async def test_expired_payment_cancels_the_order_and_restores_stock(api: Api) -> None:
    product = await api.product(await api.seller("Timor Tengah Selatan"), price=120_000, stock=4, category="madu", name="Madu hutan Timor")
    shopper = api.shopper()
    order_id = (await api.place([(product["id"], 3)], customer=shopper)).json()["id"]
    await api.payable(order_id)
    assert (await api.stock_of(product["id"]))["stock"] == 1

    await api.pay(order_id, "expire")
    cancelled = await api.order_reaches(order_id, "CANCELLED")
    assert "expire" in cancelled["status_reason"]
    restored = await eventually(lambda: api.stock_of(product["id"]), lambda p: p["stock"] == 4, what="stock released")
    assert (restored["reserved"], restored["sold"]) == (0, 0)
    assert (await api.levy_entries(order_id))["items"] == []
    inbox = await eventually(
        lambda: api.inbox(shopper["email"]), lambda m: any(x["kind"] == "order_cancelled" for x in m), what="cancellation message"
    )
    message = [m for m in inbox if m["kind"] == "order_cancelled"]
    assert len(message) == 1 and "batas waktu pembayaran" in message[0]["text"]


async def test_out_of_stock_order_is_rejected_and_reserves_nothing(api: Api) -> None:
    seller = await api.seller("Kupang")
    salt = await api.product(seller, price=15_000, stock=10, category="garam", name="Garam Kupang 1 kg")
    cashew = await api.product(seller, price=95_000, stock=1, category="mete", name="Jambu mete Flores")
    order_id = (await api.place([(salt["id"], 2), (cashew["id"], 2)])).json()["id"]

    rejected = await api.order_reaches(order_id, "REJECTED")
    assert cashew["id"] in rejected["status_reason"] and "insufficient_stock" in rejected["status_reason"]
    assert rejected["payment"] is None
    for product, stock in ((salt, 10), (cashew, 1)):
        now = await api.stock_of(product["id"])
        assert (now["stock"], now["reserved"]) == (stock, 0)
    assert (await api.payments.get(f"/payments/{order_id}")).status_code == 404


async def test_same_idempotency_key_makes_one_order_and_another_body_is_refused(api: Api) -> None:
    product = await api.product(await api.seller("Sikka"), price=50_000, stock=100, category="kelor", name="Teh kelor Sikka")
    shopper = api.shopper()
    key = "checkout-" + hashlib.sha1(shopper["email"].encode()).hexdigest()

    answers = await asyncio.gather(*[api.place([(product["id"], 1)], customer=shopper, key=key) for _ in range(8)])
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    order_id = answers[0].json()["id"]

    again = await api.place([(product["id"], 1)], customer=shopper, key=key)
    assert (again.status_code, again.json()["id"]) == (201, order_id)
    other = await api.place([(product["id"], 2)], customer=shopper, key=key)
    assert other.status_code == 409 and "different request body" in other.json()["message"]

    await api.payable(order_id)
    assert (await api.stock_of(product["id"]))["stock"] == 99  # one order, one unit held


async def test_duplicate_notifications_change_nothing_and_forged_ones_are_refused(api: Api, system: System) -> None:
    product = await api.product(await api.seller("Ende"), price=33_333, stock=10, category="pangan", name="Jagung bose")
    order_id = (await api.place([(product["id"], 3)])).json()["id"]
    await api.payable(order_id)

    forged = {
        "order_id": order_id,
        "status_code": "200",
        "gross_amount": "99999.00",
        "transaction_status": "settlement",
        "fraud_status": "accept",
        "payment_type": "qris",
        "transaction_id": "forged",
        "signature_key": "0" * 128,
    }
    refused = await api.payments.post("/midtrans/notification", json=forged)
    assert refused.status_code == 401 and "signature_key" in refused.json()["message"]
    # Nothing recorded, nothing acted on, nothing emitted: proved by the markers, not by waiting.
    await payments_caught_up(api, system, order_id, "orders")
    assert (await api.order(order_id))["status"] == "AWAITING_PAYMENT"

    await api.pay(order_id, "settlement")
    await api.order_reaches(order_id, "PAID")
    resent = await api.midtrans.post(f"/simulator/notify/{order_id}", params={"times": 3})
    assert resent.status_code == 200, resent.text
    stale = await api.midtrans.post(f"/simulator/pay/{order_id}", json={"transaction_status": "expire"})
    assert stale.status_code == 409  # Midtrans itself never expires a settled transaction
    await payments_caught_up(api, system, order_id, "orders")
    entries = await api.levy_entries(order_id)
    assert len(entries["items"]) == 1 and entries["total_levy"] == levy_for(99_999, 100) == 1_000
    assert (await api.order(order_id))["status"] == "PAID"


async def test_shopper_cancels_an_unpaid_order(api: Api) -> None:
    product = await api.product(await api.seller("Alor"), price=200_000, stock=2, category="kerajinan", name="Moko Alor mini")
    order_id = (await api.place([(product["id"], 2)])).json()["id"]
    await api.payable(order_id)

    cancelled = await api.orders.post(f"/orders/{order_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    await eventually(lambda: api.stock_of(product["id"]), lambda p: p["stock"] == 2, what="stock released")
    payment = await eventually(
        lambda: api.payments.get(f"/payments/{order_id}"), lambda r: r.json()["status"] == "FAILED", what="payment cancelled"
    )
    assert payment.json()["levy_amount"] is None
    paid_late = await api.midtrans.post(f"/simulator/pay/{order_id}", json={"transaction_status": "settlement"})
    assert paid_late.status_code in (404, 409), paid_late.text  # the Snap transaction is closed at Midtrans
    again = await api.orders.post(f"/orders/{order_id}/cancel")
    assert again.status_code == 200


async def test_fifty_concurrent_buyers_for_ten_units(api: Api) -> None:
    product = await api.product(await api.seller("Manggarai"), price=65_000, stock=10, category="kopi", name="Kopi Manggarai")
    placed = await asyncio.gather(*[api.place([(product["id"], 1)]) for _ in range(50)])
    assert all(p.status_code == 201 for p in placed)
    orders = await asyncio.gather(*[api.payable(p.json()["id"], timeout=60) for p in placed])
    awaiting = [o for o in orders if o["status"] == "AWAITING_PAYMENT"]
    assert len(awaiting) == 10
    assert sum(o["status"] == "REJECTED" for o in orders) == 40
    held = await api.stock_of(product["id"])
    assert (held["stock"], held["reserved"]) == (0, 10)

    await asyncio.gather(*[api.pay(o["id"]) for o in awaiting])
    await asyncio.gather(*[api.order_reaches(o["id"], "PAID") for o in awaiting])
    sold = await eventually(lambda: api.stock_of(product["id"]), lambda p: p["sold"] == 10, what="all sold")
    assert (sold["stock"], sold["reserved"]) == (0, 0)
    print(f"\n50 buyers, 10 units: {len(awaiting)} paid, {50 - len(awaiting)} rejected, stock {sold['stock']}")


async def test_bad_input_gets_a_clear_4xx(api: Api) -> None:
    shopper = api.as_shopper(api.shopper())
    missing_key = await api.orders.post(
        "/orders", headers=shopper, json={"customer": api.shopper(), "items": [{"product_id": "x", "quantity": 1}]}
    )
    assert missing_key.status_code == 400 and "Idempotency-Key" in missing_key.json()["message"]
    negative = await api.place([("prd-x", -1)])
    assert negative.status_code == 422 and negative.json()["errors"][0]["field"] == "items.0.quantity"
    unknown_field = await api.orders.post(
        "/orders",
        headers={"Idempotency-Key": "k-unknown", **shopper},
        json={"customer": api.shopper(), "items": [{"product_id": "x", "quantity": 1}], "coupon": "FREE"},
    )
    assert unknown_field.status_code == 422 and unknown_field.json()["errors"][0]["field"] == "coupon"
    seller_account = await api.seller_account("Toko Jakarta", f"toko-{uuid.uuid4().hex[:6]}@b.id", "08123456789")
    bad_regency = await api.catalog.post(
        "/sellers",
        headers={"Authorization": f"Bearer {seller_account['access_token']}"},
        json={"name": "Toko", "regency": "Jakarta", "email": "a@b.id", "phone": "08123456789"},
    )
    assert bad_regency.status_code == 422 and "regency" in bad_regency.json()["message"]
    bad_price = await api.catalog.post(
        "/products", json={"seller_id": "slr-x", "name": "Kain", "category": "tenun", "price": 1.5, "stock": 1}
    )
    assert bad_price.status_code == 422 and bad_price.json()["errors"][0]["field"] == "price"
    huge = await api.orders.post(
        "/orders", headers={"Idempotency-Key": "k-huge", "Content-Type": "application/json"}, content=b"[" * 100_000
    )
    assert huge.status_code == 413
    huge_quantity = await api.place([("prd-x", 10**12)])
    assert huge_quantity.status_code == 422 and huge_quantity.json()["errors"][0]["field"] == "items.0.quantity"
    nested = await api.orders.post(
        "/orders",
        headers={"Idempotency-Key": "k-nested", "Content-Type": "application/json", **api.as_shopper(api.shopper())},
        content=b"[" * 20_000 + b"]" * 20_000,
    )
    assert 400 <= nested.status_code < 500, nested.text
    not_utf8 = await api.orders.post(
        "/orders",
        headers={"Idempotency-Key": "k-bytes", "Content-Type": "application/json", **api.as_shopper(api.shopper())},
        content=b'{"customer": "\xff\xfe"}',
    )
    assert 400 <= not_utf8.status_code < 500, not_utf8.text
    wrong_type = await api.orders.post(
        "/orders",
        headers={"Idempotency-Key": "k-form", "Content-Type": "application/x-www-form-urlencoded", **api.as_shopper(api.shopper())},
        content=b"customer=x&items=y",
    )
    assert 400 <= wrong_type.status_code < 500 and "message" in wrong_type.json(), wrong_type.text
    not_found = await api.orders.get("/orders/BNTT-NOPE")
    assert not_found.status_code == 404 and "BNTT-NOPE" in not_found.json()["message"]
