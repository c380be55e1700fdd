"""Money is never kept for an order that can no longer be paid, and every order has one deadline
(issue 13, items 1 and 2): on the real stack, with the simulator playing Midtrans."""

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from infra.apps import start_app
from tests.support import Api, eventually, read_events
from tests.test_levy_ledger import finance, today_wita

WIB = timezone(timedelta(hours=7))
pytestmark = pytest.mark.timeout(600)  # the first test of a run also waits for the stack to start


async def late_payments(api: Api, state: str) -> dict[str, dict[str, Any]]:
    response = await api.payments.get("/admin/late-payments", params={"state": state})
    assert response.status_code == 200, response.text
    return {item["order_id"]: item for item in response.json()["items"]}


async def kinds_in_inbox(api: Api, recipient: str) -> list[str]:
    return [message["kind"] for message in await api.inbox(recipient)]


async def settle_after_cancellation(api: Api, price: int, quantity: int) -> tuple[str, dict[str, Any], dict[str, str], dict[str, Any]]:
    """The shopper pays; Midtrans's status answers are slow, and the shopper cancels the order
    meanwhile. The cancel reaches Midtrans too late (412: already settled): the money arrives for
    a cancelled order."""
    seller = await api.seller("Lembata")
    product = await api.product(seller, price=price, stock=5, category="kerajinan", name="Tas anyaman lontar Lembata")
    shopper = api.shopper()
    order_id = (await api.place([(product["id"], quantity)], customer=shopper)).json()["id"]
    await api.payable(order_id)
    delayed = await api.midtrans.post("/simulator/faults", json={"status_delay_seconds": 12, "count": 1})
    assert delayed.status_code == 200, delayed.text
    await api.pay(order_id, "settlement")
    cancelled = await api.orders.post(f"/orders/{order_id}/cancel", headers=api.as_shopper(shopper))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED", cancelled.text
    return order_id, seller, shopper, product


async def test_money_that_settles_after_the_order_was_cancelled_goes_back(api: Api) -> None:
    order_id, seller, shopper, product = await settle_after_cancellation(api, price=150_000, quantity=2)

    returned = await eventually(lambda: late_payments(api, "returned"), lambda r: order_id in r, timeout=90, what="late payment returned")
    assert (returned[order_id]["gross_amount"], returned[order_id]["refund_key"]) == (300_000, f"{order_id}-return")
    payment = (await api.payments.get(f"/payments/{order_id}")).json()
    assert payment["status"] == "REFUNDED"
    at_midtrans = (await api.midtrans.get(f"/simulator/transactions/{order_id}")).json()
    assert (at_midtrans["status"], at_midtrans["refunded_amount"]) == ("refund", "300000.00")

    # Finance sees it: booked and reversed in the ledger (net zero), and named by reconciliation.
    entries = (await finance(api, "ledger", order_id=order_id))["items"]
    assert sorted(e["kind"] for e in entries) == ["levy", "reversal"]
    assert sum(e["gross"] for e in entries) == 0 and sum(e["levy"] for e in entries) == 0
    report = await finance(api, "reconciliation", **{"from": today_wita(), "to": today_wita()})
    assert order_id not in {m["order_id"] for m in report["mismatches"]}
    assert {(p["order_id"], p["state"]) for p in report["late_payments"]} >= {(order_id, "returned")}
    assert (await finance(api, "verify"))["ok"] is True

    # The shopper is told; the seller is never asked to ship. payment_returned is the last event
    # of the order on its partition, so once it is in the inbox everything before it was handled.
    inbox = await eventually(
        lambda: api.inbox(shopper["email"]), lambda m: any(x["kind"] == "payment_returned" for x in m), what="return message"
    )
    message = next(m for m in inbox if m["kind"] == "payment_returned")
    assert "Rp300.000" in message["text"] and "kembalikan" in message["text"]
    assert "payment_receipt" not in {m["kind"] for m in inbox}
    assert "seller_new_paid_order" not in await kinds_in_inbox(api, seller["email"])
    order = await api.order(order_id)
    assert order["status"] == "CANCELLED" and order["levy_total"] is None
    stock = await api.stock_of(product["id"])
    assert (stock["stock"], stock["reserved"], stock["sold"]) == (5, 0, 0)
    print(f"\n[late payment] {order_id}: Rp300.000 settled after cancel, returned via refund {order_id}-return")


async def test_a_return_midtrans_refuses_waits_for_an_operator(api: Api) -> None:
    refused = await api.midtrans.post("/simulator/faults", json={"refund_status": 412, "count": 1})
    assert refused.status_code == 200, refused.text
    order_id, _, shopper, _ = await settle_after_cancellation(api, price=80_000, quantity=1)

    waiting = await eventually(
        lambda: late_payments(api, "needs_operator"), lambda r: order_id in r, timeout=90, what="late payment for an operator"
    )
    assert waiting[order_id]["gross_amount"] == 80_000 and "412" in waiting[order_id]["error"]
    assert (await api.payments.get(f"/payments/{order_id}")).json()["status"] == "SETTLED"

    # The operator retries the refund by hand; the return then completes and the shopper is told.
    done = await api.payments.post(
        f"/payments/{order_id}/refunds", json={"refund_key": f"{order_id}-op", "reason": "dikembalikan operator"}
    )
    assert done.status_code == 201 and done.json()["status"] == "DONE", done.text
    assert order_id in await late_payments(api, "returned")
    await eventually(lambda: kinds_in_inbox(api, shopper["email"]), lambda k: "payment_returned" in k, what="return message")


def _wib(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=WIB)


async def test_one_deadline_from_the_stock_hold_to_the_snap_expiry(api: Api, system: Any) -> None:
    product = await api.product(await api.seller("Flores Timur"), price=45_000, stock=3, category="pangan", name="Jagung titi Larantuka")
    order_id = (await api.place([(product["id"], 1)])).json()["id"]
    order = await api.payable(order_id)

    [reserved] = await read_events(
        system.endpoints.kafka_bootstrap, "catalog.events", lambda e: e.type == "catalog.stock_reserved" and e.key == order_id, count=1
    )
    [requested] = await read_events(
        system.endpoints.kafka_bootstrap, "orders.events", lambda e: e.type == "orders.payment_requested" and e.key == order_id, count=1
    )
    hold_ends = datetime.fromisoformat(reserved.data["expires_at"])
    assert datetime.fromisoformat(order["pay_before"]) == hold_ends
    assert datetime.fromisoformat(requested.data["pay_before"]) == hold_ends
    assert datetime.fromisoformat((await api.payments.get(f"/payments/{order_id}")).json()["pay_before"]) == hold_ends
    # An unpaid order holds stock for 30 minutes by default (hoarding: short holds).
    placed_at = datetime.fromisoformat(order["created_at"])
    assert timedelta(minutes=30) <= hold_ends - placed_at < timedelta(minutes=31)  # from the reservation, just after placing

    snap = (await api.midtrans.get(f"/simulator/transactions/{order_id}")).json()
    snap_ends = _wib(snap["expiry_time"])
    # Strictly inside the hold, by the margin that lets a last-minute payment be confirmed in time
    # (Snap counts whole minutes from a start truncated to the second: up to a minute and a second more).
    assert hold_ends - timedelta(minutes=3, seconds=1) <= snap_ends <= hold_ends - timedelta(minutes=2)
    print(f"\n[deadline] hold ends {hold_ends.isoformat()}, pay_before identical, Snap ends {snap_ends.isoformat()}")


def swap(system: Any, name: str, env: dict[str, str] | None = None) -> None:
    """Restart one service, with extra settings or (None) its usual ones."""
    system.processes[name].stop()
    system.processes[name] = start_app(system.profile, system.endpoints, name, extra_env=env)


async def test_a_payment_confirmed_after_the_hold_ended_takes_the_units_again_or_is_returned(api: Api, system: Any) -> None:
    # Holds of 80 s and Snap links ending 15 s before them: short enough to wait out here.
    swap(system, "catalog", {"UNPAID_HOLD_MINUTES": "1.34", "RESERVATION_SWEEP_SECONDS": "1"})
    swap(system, "payments", {"SNAP_EXPIRY_MARGIN_SECONDS": "15"})
    try:
        seller = await api.seller("Rote Ndao")
        scarce = await api.product(seller, price=900_000, stock=1, category="tenun", name="Selendang tenun Rote")
        plenty = await api.product(seller, price=60_000, stock=5, category="pangan", name="Gula air Rote")
        lapsing_shopper = api.shopper()
        lapsing = (await api.place([(scarce["id"], 1)], customer=lapsing_shopper)).json()["id"]
        kept = (await api.place([(plenty["id"], 2)])).json()["id"]
        await api.payable(lapsing)
        await api.payable(kept)

        # Both are paid in time at Midtrans, but payments is down: the news arrives after the holds ended.
        system.processes["payments"].kill()
        await api.pay(lapsing)
        await api.pay(kept)
        await eventually(lambda: api.stock_of(scarce["id"]), lambda p: p["stock"] == 1, timeout=150, what="hold of the scarce unit ended")
        await eventually(lambda: api.stock_of(plenty["id"]), lambda p: p["stock"] == 5, timeout=60, what="hold of the plenty units ended")
        # The released unit sells again meanwhile (the seller sold it at the market).
        resold = await api.catalog.put(f"/products/{scarce['id']}/stock", json={"stock": 0}, headers=api.as_seller(seller))
        assert resold.status_code == 200, resold.text
        swap(system, "payments")
        for order_id in (lapsing, kept):
            await api.midtrans.post(f"/simulator/notify/{order_id}")

        # Still on sale: the paid order takes its units again and stays paid.
        await api.order_reaches(kept, "PAID", timeout=60)
        sold = await eventually(lambda: api.stock_of(plenty["id"]), lambda p: p["sold"] == 2, timeout=60, what="units taken again")
        assert (sold["stock"], sold["reserved"]) == (3, 0)
        # Sold meanwhile: never silent, the paid order is cancelled and the money returned.
        cancelled = await api.order_reaches(lapsing, "CANCELLED", timeout=60)
        assert "hold ended" in cancelled["status_reason"]
        returned = await eventually(lambda: late_payments(api, "returned"), lambda r: lapsing in r, timeout=60, what="money returned")
        assert returned[lapsing]["gross_amount"] == 900_000
        await eventually(
            lambda: kinds_in_inbox(api, lapsing_shopper["email"]), lambda k: "payment_returned" in k, timeout=90, what="return message"
        )
        # The seller, asked to ship when the order was paid, is told not to.
        await eventually(
            lambda: kinds_in_inbox(api, seller["email"]),
            lambda k: "seller_order_cancelled" in k,
            timeout=60,
            what="seller told not to ship",
        )
        unit = await api.stock_of(scarce["id"])
        assert (unit["stock"], unit["reserved"], unit["sold"]) == (0, 0, 0)  # nothing taken from anyone
        print(f"\n[lapsed hold] {kept} took its units again; {lapsing} cancelled and Rp900.000 returned")
    finally:
        swap(system, "catalog")
        swap(system, "payments")  # the usual settings again (stopping a killed one is a no-op)
