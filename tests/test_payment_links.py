"""Opening Snap links when Midtrans is slow: a create that timed out but succeeded at Midtrans is
looked up, not failed, and two payments instances never both open (then fail) the same link."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from beli_runtime.mongo import connect
from tests.faults import restart_app
from tests.support import Api, System, eventually


@pytest.fixture
async def slow_snap(api: Api) -> AsyncIterator[Any]:
    async def slow(seconds: float, count: int) -> None:
        response = await api.midtrans.post("/simulator/faults", json={"snap_delay_seconds": seconds, "count": count})
        assert response.status_code == 200, response.text

    yield slow
    await api.midtrans.delete("/simulator/faults")


async def test_a_create_that_timed_out_at_midtrans_is_adopted_not_failed(api: Api, system: System, slow_snap: Any) -> None:
    seller = await api.seller("Ngada")
    product = await api.product(seller, price=95_000, stock=5, category="kopi", name="Kopi Arabika Bajawa 250 g")
    # Midtrans creates the transaction at once but answers after payments gave up (8 s timeout).
    await slow_snap(10.0, 1)
    placed = await api.place([(product["id"], 1)])
    order_id = placed.json()["id"]
    await eventually(
        lambda: api.midtrans.get(f"/simulator/transactions/{order_id}"),
        lambda r: r.status_code == 200,
        timeout=60,
        what="created at Midtrans",
    )
    client = connect(system.endpoints.mongodb_url)
    try:
        # Marker: payments retried, heard "order_id sudah digunakan" and looked the transaction up.
        payment = await eventually(
            lambda: client["beli_payments"]["payments"].find_one({"_id": order_id}),
            lambda p: p is not None and ("Midtrans holds it" in (p.get("last_error") or "") or p["status"] == "FAILED"),
            timeout=90,
            what="the retried create answered 'already used'",
        )
    finally:
        await client.close()
    assert payment["status"] == "OPENING", f"payment marked {payment['status']}: {payment.get('failure_reason')}"
    assert (await api.order(order_id))["status"] == "AWAITING_PAYMENT"
    # The shopper pays the transaction Midtrans holds: the money is recorded, the order paid.
    await api.pay(order_id)
    await api.order_reaches(order_id, "PAID", timeout=60)
    assert len((await api.levy_entries(order_id))["items"]) == 1


async def test_two_payments_instances_and_a_slow_midtrans_open_each_link_once(api: Api, system: System, slow_snap: Any) -> None:
    """Eight Snap creates of 3 s each take longer than the 10 s job lease: the holder keeps it
    (renewal), so the other instance never creates the same transactions and fails them."""
    restart_app(system, "payments", instance=1, port=system.profile.service_ports["payments"] + 45)
    try:
        seller = await api.seller("Sikka")
        product = await api.product(seller, price=350_000, stock=20, category="tenun", name="Sarung tenun ikat Sikka")
        await slow_snap(3.0, 8)
        placed = await asyncio.gather(*[api.place([(product["id"], 1)]) for _ in range(8)])
        orders = await asyncio.gather(*[api.payable(p.json()["id"], timeout=180) for p in placed])
        statuses = {o["id"]: o["status"] for o in orders}
        assert set(statuses.values()) == {"AWAITING_PAYMENT"}, statuses
        assert all(o["payment"]["redirect_url"] for o in orders)
    finally:
        system.processes.pop("payments-1").kill()
