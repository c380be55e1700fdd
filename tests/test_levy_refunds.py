"""Refunds through Midtrans reverse the levy of the refunded lines, never twice; reconciliation
lists what the ledger and Midtrans disagree on."""

import base64
from typing import Any

from payments.domain import levy_for
from tests.support import Api, System, eventually, payments_caught_up
from tests.test_levy_ledger import finance, paid_order, today_wita

MIDTRANS_AUTH = {"Authorization": "Basic " + base64.b64encode(b"SB-Mid-server-beli-ntt-dev:").decode()}


async def refund(api: Api, order_id: str, **body: Any) -> Any:
    return await api.payments.post(f"/payments/{order_id}/refunds", json={"reason": "barang rusak saat pengiriman", **body})


async def entries_of(api: Api, order_id: str) -> list[dict[str, Any]]:
    return (await finance(api, "ledger", order_id=order_id))["items"]


async def test_partial_then_full_refund_reverses_levy_proportionally_and_exactly_once(api: Api, system: System) -> None:
    seller = await api.seller("Sumba Barat Daya")
    sugar = await api.product(seller, price=33_350, stock=10, category="pangan", name="Gula Sabu")
    cloth = await api.product(seller, price=450_000, stock=5, category="tenun", name="Tenun Sabu")
    order_id = await paid_order(api, [(sugar, 3), (cloth, 1)])
    sugar_levy = levy_for(100_050, 100)  # 1000.5 -> 1001
    assert sugar_levy == 1_001

    one = await refund(api, order_id, refund_key=f"{order_id}-r1", lines=[{"product_id": sugar["id"], "quantity": 1}], amount=33_350)
    assert one.status_code == 201, one.text
    assert (one.json()["status"], one.json()["amount"]) == ("DONE", 33_350)
    again = await refund(api, order_id, refund_key=f"{order_id}-r1", lines=[{"product_id": sugar["id"], "quantity": 1}], amount=33_350)
    assert again.status_code == 201 and again.json()["status"] == "DONE"  # same key: the same refund, not a second one
    # Midtrans's own refund notification arrives too: once payments has acted on it, nothing more was reversed.
    await payments_caught_up(api, system, order_id)
    reversals = [e for e in await entries_of(api, order_id) if e["kind"] == "reversal"]
    assert [(e["product_id"], e["quantity"], e["gross"], e["levy"], e["seller_payable"]) for e in reversals] == [
        (sugar["id"], -1, -33_350, -334, -33_016)
    ]  # 1001 / 3 = 333.67 -> 334
    assert reversals[0]["reverses"] == f"{order_id}:{sugar['id']}:levy"
    assert (await api.payments.get(f"/payments/{order_id}")).json()["status"] == "PARTIALLY_REFUNDED"

    too_many = await refund(api, order_id, lines=[{"product_id": sugar["id"], "quantity": 3}])
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "lines.0.quantity"
    wrong_amount = await refund(api, order_id, amount=1_000)
    assert wrong_amount.status_code == 422 and wrong_amount.json()["errors"][0]["field"] == "amount"

    rest = await refund(api, order_id, refund_key=f"{order_id}-r2")
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == 2 * 33_350 + 450_000
    await payments_caught_up(api, system, order_id)
    entries = await entries_of(api, order_id)
    for product_id, gross in ((sugar["id"], 100_050), (cloth["id"], 450_000)):
        mine = [e for e in entries if e["product_id"] == product_id]
        assert sum(e["gross"] for e in mine) == 0 and sum(e["levy"] for e in mine) == 0 and sum(e["seller_payable"] for e in mine) == 0
        assert sum(-e["levy"] for e in mine if e["kind"] == "reversal") == levy_for(gross, 100)
    assert len(entries) == 2 + 1 + 2
    assert (await api.payments.get(f"/payments/{order_id}")).json()["status"] == "REFUNDED"
    assert (await refund(api, order_id)).status_code == 409
    assert (await finance(api, "verify"))["ok"] is True


async def test_unpaid_payment_cannot_be_refunded(api: Api) -> None:
    product = await api.product(await api.seller("Nagekeo"), price=20_000, stock=5, category="pangan", name="Keripik Nagekeo")
    order_id = (await api.place([(product["id"], 1)])).json()["id"]
    await api.payable(order_id)
    refused = await refund(api, order_id)
    assert refused.status_code == 409 and "only settled payments" in refused.json()["message"]
    assert (await refund(api, "BNTT-NOPE")).status_code == 404


async def test_reconciliation_lists_late_settlements_and_refunds_made_outside_beli_ntt(api: Api) -> None:
    seller = await api.seller("Sumba Barat")
    sugar = await api.product(seller, price=25_000, stock=20, category="pangan", name="Gula lempeng Rote")
    matched = await paid_order(api, [(sugar, 2)])

    # A refund made in the Midtrans dashboard names no lines: nothing is reversed, reconciliation shows it.
    dashboard = await paid_order(api, [(sugar, 4)])
    done = await api.midtrans.post(
        f"/v2/{dashboard}/refund", headers=MIDTRANS_AUTH, json={"refund_key": f"{dashboard}-dash", "amount": 10_000, "reason": "dashboard"}
    )
    assert done.status_code == 200, done.text

    # Midtrans settled, but its status answers are slow: our ledger has not caught up yet.
    late = (await api.place([(sugar["id"], 1)])).json()["id"]
    await api.payable(late)
    faults = await api.midtrans.post("/simulator/faults", json={"status_delay_seconds": 20, "count": 1})
    assert faults.status_code == 200, faults.text
    await api.pay(late, "settlement")
    # payments' status check of the settlement is the one held up: wait until it has taken the slow answer.
    await eventually(
        lambda: api.midtrans.get("/simulator/faults"), lambda r: r.json()["status_delay_count"] == 0, what="payments to ask for the status"
    )

    report = await finance(api, "reconciliation", **{"from": today_wita(), "to": today_wita()})
    problems = {m["order_id"]: m for m in report["mismatches"]}
    assert matched not in problems
    assert problems[late]["problem"] == "settled_at_midtrans_only" and problems[late]["midtrans_net_gross"] == 25_000
    assert (problems[dashboard]["problem"], problems[dashboard]["ledger_net_gross"], problems[dashboard]["midtrans_net_gross"]) == (
        "amount_differs",
        100_000,
        90_000,
    )

    await api.order_reaches(late, "PAID", timeout=60)
    settled = await eventually(
        lambda: finance(api, "reconciliation", **{"from": today_wita(), "to": today_wita()}),
        lambda r: late not in {m["order_id"] for m in r["mismatches"]},
        timeout=30,
        what="late settlement reconciled",
    )
    assert dashboard in {m["order_id"] for m in settled["mismatches"]}
    refunds = (await api.payments.get(f"/payments/{dashboard}/refunds")).json()["items"]
    assert [(r["refund_key"], r["status"], r["amount"]) for r in refunds] == [(f"{dashboard}-dash", "UNMATCHED", 10_000)]


async def test_two_variants_of_one_product_are_two_lines_to_settle_and_refund(api: Api, system: System) -> None:
    seller = await api.seller("Sikka")
    sarong = await api.listing(
        seller,
        name="Sarung tenun Sikka",
        category="tenun",
        variants=[{"name": "Merah", "price": 410_000, "stock": 3}, {"name": "Hitam", "price": 390_000, "stock": 3}],
    )
    red, black = sarong["variants"]
    shopper = api.shopper()
    placed = await api.orders.post(
        "/orders",
        headers={"Idempotency-Key": f"variants-{sarong['id']}", **api.as_shopper(shopper)},
        json={
            "customer": shopper,
            "items": [
                {"product_id": sarong["id"], "variant_id": red["id"], "quantity": 2},
                {"product_id": sarong["id"], "variant_id": black["id"], "quantity": 1},
            ],
        },
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    await api.payable(order_id)
    await api.pay(order_id)
    await api.order_reaches(order_id, "PAID")
    settled = await entries_of(api, order_id)
    assert sorted((e["variant_id"], e["gross"], e["levy"]) for e in settled) == sorted(
        [(red["id"], 820_000, 8_200), (black["id"], 390_000, 3_900)]
    )

    ambiguous = await refund(api, order_id, lines=[{"product_id": sarong["id"], "quantity": 1}])
    assert ambiguous.status_code == 422 and "variant_id" in ambiguous.json()["message"]
    one_red = await refund(
        api,
        order_id,
        refund_key=f"{order_id}-red",
        amount=410_000,
        lines=[{"product_id": sarong["id"], "variant_id": red["id"], "quantity": 1}],
    )
    assert one_red.status_code == 201 and one_red.json()["status"] == "DONE", one_red.text
    await payments_caught_up(api, system, order_id)
    reversals = [e for e in await entries_of(api, order_id) if e["kind"] == "reversal"]
    assert [(e["variant_id"], e["quantity"], e["gross"], e["levy"]) for e in reversals] == [(red["id"], -1, -410_000, -4_100)]


async def test_a_refund_midtrans_did_not_answer_is_sent_again_and_completes(api: Api) -> None:
    seller = await api.seller("Rote Ndao")
    sugar = await api.product(seller, price=27_500, stock=10, category="pangan", name="Gula lempeng Rote")
    order_id = await paid_order(api, [(sugar, 2)])
    outage = await api.midtrans.post("/simulator/faults", json={"refund_status": 503, "count": 1})
    assert outage.status_code == 200, outage.text

    first = await refund(api, order_id, refund_key=f"{order_id}-outage", lines=[{"product_id": sugar["id"], "quantity": 1}])
    assert first.status_code == 503 and "stays requested" in first.json()["message"]
    assert [e for e in await entries_of(api, order_id) if e["kind"] == "reversal"] == []

    await eventually(
        lambda: api.payments.get(f"/payments/{order_id}/refunds"),
        lambda r: [x["status"] for x in r.json()["items"]] == ["DONE"],
        timeout=30,
        what="refund retried",
    )
    reversals = [e for e in await entries_of(api, order_id) if e["kind"] == "reversal"]
    assert [(e["quantity"], e["gross"], e["levy"]) for e in reversals] == [(-1, -27_500, -275)]
    assert (await api.payments.get(f"/payments/{order_id}")).json()["status"] == "PARTIALLY_REFUNDED"
