"""Pick-up at an NTT Mart outlet (issue #12), end to end on real Kafka, the database and every
service: the shopper chooses "ambil di NTT Mart Belu" per seller, both sellers deliver there, the
outlet hands the parcels over against the order's pick-up code (completing them as a confirmed
receipt), and a parcel nobody collects is returned and refunded with its levy reversed. The test
stacks give a shopper 15 seconds to collect (PICKUP_COLLECT_DAYS in infra/apps.py)."""

import base64
import uuid
from typing import Any

import httpx

from beli_contracts.outlets import outlet_id_for
from infra.tokens import mint
from tests.support import Api, System, eventually, payments_caught_up
from tests.test_fulfilment_orders import confirm, order_events, seller_orders, ship

BELU, SIKKA = outlet_id_for("Belu"), outlet_id_for("Sikka")
MIDTRANS_AUTH = {"Authorization": "Basic " + base64.b64encode(b"SB-Mid-server-beli-ntt-dev:").decode()}


def as_outlet(outlet_id: str) -> dict[str, str]:
    token = mint("outlet", email=f"staf@{outlet_id}.example.id", outlet_id=outlet_id)
    return {"Authorization": f"Bearer {token}"}


async def outlet_known(api: Api, outlet_id: str) -> None:
    """Orders learns the seeded outlets from catalog's events: wait until it has this one."""

    async def listed() -> list[str]:
        return [outlet["outlet_id"] for outlet in (await api.orders.get("/outlets")).json()["items"]]

    await eventually(listed, lambda ids: outlet_id in ids, timeout=60, what=f"orders' copy of {outlet_id}")


async def place(api: Api, shopper: dict[str, str], items: list[tuple[dict, int]], deliveries: list[dict[str, Any]]) -> httpx.Response:
    body = {
        "customer": shopper,
        "items": [{"product_id": product["id"], "quantity": quantity} for product, quantity in items],
        "deliveries": deliveries,
    }
    return await api.orders.post("/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex, **api.as_shopper(shopper)})


async def paid(api: Api, shopper: dict[str, str], items: list[tuple[dict, int]], deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    placed = await place(api, shopper, items, deliveries)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    assert (await api.payable(order_id))["status"] == "AWAITING_PAYMENT"
    await api.pay(order_id)
    return await api.order_reaches(order_id, "PAID")


def pickup_at(outlet_id: str, *sellers: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"seller_id": seller["id"], "method": "pickup", "outlet_id": outlet_id} for seller in sellers]


async def deliver(api: Api, order_id: str, seller: dict[str, Any]) -> httpx.Response:
    return await api.orders.post(f"/orders/{order_id}/sub-orders/{seller['id']}/deliver-to-outlet", headers=api.as_seller(seller))


async def hand_over(api: Api, outlet_id: str, order_id: str, code: str, staff: str | None = None) -> httpx.Response:
    return await api.orders.post(
        f"/outlets/{outlet_id}/orders/{order_id}/handover", json={"code": code}, headers=as_outlet(staff or outlet_id)
    )


async def waiting(api: Api, outlet_id: str) -> list[dict[str, Any]]:
    response = await api.orders.get(f"/outlets/{outlet_id}/orders", params={"status": "AT_OUTLET"}, headers=as_outlet(outlet_id))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def kinds_in_inbox(api: Api, email: str, kind: str, count: int) -> list[dict[str, Any]]:
    inbox = await eventually(
        lambda: api.inbox(email), lambda m: sum(x["kind"] == kind for x in m) >= count, timeout=60, what=f"{count} {kind}"
    )
    return [message for message in inbox if message["kind"] == kind]


async def test_two_sellers_picked_up_at_ntt_mart_belu_with_the_code(api: Api, system: System) -> None:
    weaver, roaster = await api.seller("Belu"), await api.seller("Malaka")
    cloth = await api.product(weaver, price=350_000, stock=5, category="tenun", name="Selendang tenun Belu")
    honey = await api.product(roaster, price=95_000, stock=10, category="madu", name="Madu hutan Malaka")
    await outlet_known(api, BELU)
    shopper = api.shopper()
    items = [(cloth, 1), (honey, 2)]

    unknown = await place(api, shopper, items, pickup_at("ntt-mart-atlantis", weaver))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "deliveries.0.outlet_id", unknown.text
    no_outlet = await place(api, shopper, items, [{"seller_id": weaver["id"], "method": "pickup"}])
    assert no_outlet.status_code == 422, no_outlet.text

    order = await paid(api, shopper, items, pickup_at(BELU, weaver, roaster))
    order_id, code = order["id"], order["pickup_code"]
    assert len(code) == 6 and code.isalnum() and code.isupper()
    assert [(s["delivery"]["method"], s["delivery"]["outlet"]["name"]) for s in order["sub_orders"]] == [("pickup", "NTT Mart Belu")] * 2
    assert order["total"] == 350_000 + 190_000  # no shipping fee for pick-up

    # The seller sees where to take it, never the code; a pick-up is not shipped, nor confirmed by the shopper.
    [mine] = (await seller_orders(api, weaver["id"], status="PAID"))["items"]
    assert mine["delivery"]["outlet"]["outlet_id"] == BELU and code not in str(mine)
    assert (await ship(api, order_id, weaver["id"], "JNE", "JNE0001")).status_code == 409
    assert (await confirm(api, order_id, weaver["id"])).status_code == 409
    assert (await hand_over(api, BELU, order_id, code)).status_code == 409  # nothing has arrived yet

    first = await deliver(api, order_id, weaver)
    assert first.status_code == 200 and first.json()["status"] == "AT_OUTLET", first.text
    again = await deliver(api, order_id, weaver)
    assert again.status_code == 200 and again.json()["at_outlet_at"] == first.json()["at_outlet_at"]
    [listed] = [o for o in await waiting(api, BELU) if o["order_id"] == order_id]
    # The staff see every parcel of the order for their outlet: one waiting, one still to come.
    assert [(p["seller_id"], p["status"]) for p in listed["parcels"]] == [(weaver["id"], "AT_OUTLET"), (roaster["id"], "PAID")]
    assert listed["customer"]["name"] == shopper["name"]
    assert code not in str(listed)

    # Staff of NTT Mart Sikka see nothing of Belu's parcels and cannot hand them over; nor can shoppers.
    sikka_reads_belu = await api.orders.get(f"/outlets/{BELU}/orders", headers=as_outlet(SIKKA))
    assert sikka_reads_belu.status_code == 404
    assert (await api.orders.get(f"/outlets/{SIKKA}/orders/{order_id}", headers=as_outlet(SIKKA))).status_code == 404
    assert (await hand_over(api, SIKKA, order_id, code)).status_code == 404
    assert (await hand_over(api, BELU, order_id, code, staff=SIKKA)).status_code == 404
    assert order_id not in str(await waiting(api, SIKKA))
    as_shopper = await api.orders.get(f"/outlets/{BELU}/orders", headers=api.as_shopper(shopper))
    assert as_shopper.status_code == 403

    assert (await deliver(api, order_id, roaster)).status_code == 200
    wrong = await hand_over(api, BELU, order_id, "AAAAAA" if code != "AAAAAA" else "BBBBBB")
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "code"
    assert (await api.order(order_id))["status"] == "PAID"

    handed = await hand_over(api, BELU, order_id, code.lower())
    assert handed.status_code == 200, handed.text
    assert [(p["status"], p["completed_by"]) for p in handed.json()["parcels"]] == [("COMPLETED", "outlet")] * 2
    assert (await hand_over(api, BELU, order_id, code)).status_code == 200  # pressed twice: nothing more
    done = await api.order(order_id)
    assert done["status"] == "COMPLETED" and order_id not in str(await waiting(api, BELU))

    # Completed exactly as a confirmed receipt: one order_completed per seller, levied once.
    completed = await order_events(system, order_id, "orders.order_completed", count=2)
    assert sorted(e.data["seller"]["seller_id"] for e in completed) == sorted([weaver["id"], roaster["id"]])
    await order_events(system, order_id, "orders.pickup_collected", count=1, settle=0)
    entries = await api.levy_entries(order_id)
    assert entries["total_levy"] == done["levy_total"] == sum(s["levy"] for s in done["sub_orders"]) == 3_500 + 1_900
    assert [e["kind"] for e in entries["items"]] == ["levy", "levy"]

    ready = await kinds_in_inbox(api, shopper["email"], "pickup_ready", 2)
    assert all(code in message["text"] and "NTT Mart Belu" in message["text"] for message in ready)
    await kinds_in_inbox(api, shopper["email"], "pickup_collected", 1)


async def test_wrong_codes_are_refused_then_locked(api: Api) -> None:
    seller = await api.seller("Belu")
    salt = await api.product(seller, price=20_000, stock=10, category="garam", name="Garam Belu")
    await outlet_known(api, BELU)
    order = await paid(api, api.shopper(), [(salt, 1)], pickup_at(BELU, seller))
    assert (await deliver(api, order["id"], seller)).status_code == 200
    wrong = "AAAAAA" if order["pickup_code"] != "AAAAAA" else "BBBBBB"
    refused = [(await hand_over(api, BELU, order["id"], wrong)).status_code for _ in range(5)]
    assert refused == [422] * 5
    locked = await hand_over(api, BELU, order["id"], order["pickup_code"])  # even the right code waits now
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert (await api.order(order["id"]))["sub_orders"][0]["status"] == "AT_OUTLET"


async def test_an_uncollected_parcel_is_returned_after_the_deadline_and_refunded_with_its_levy_reversed(api: Api, system: System) -> None:
    weaver, roaster = await api.seller("Belu"), await api.seller("Ende")
    cloth = await api.product(weaver, price=420_000, stock=5, category="tenun", name="Sarung tenun Belu")
    coffee = await api.product(roaster, price=80_000, stock=10, category="kopi", name="Kopi Ende 250 g")
    await outlet_known(api, BELU)
    shopper = api.shopper()
    order = await paid(
        api, shopper, [(cloth, 1), (coffee, 1)], [*pickup_at(BELU, weaver), {"seller_id": roaster["id"], "method": "courier"}]
    )
    order_id = order["id"]
    assert order["sub_orders"][1]["delivery"] == {"method": "courier", "outlet": None}

    arrived = await deliver(api, order_id, weaver)
    assert arrived.status_code == 200
    too_early = await api.orders.post(f"/outlets/{BELU}/orders/{order_id}/return", headers=as_outlet(BELU))
    assert too_early.status_code == 409 and "belum lewat" in too_early.json()["message"]
    reminder = await kinds_in_inbox(api, shopper["email"], "pickup_reminder", 1)
    assert order["pickup_code"] in reminder[0]["text"]
    refused = await api.orders.post(f"/outlets/{BELU}/orders/{order_id}/return", headers=as_outlet(SIKKA))
    assert refused.status_code == 404

    returned = await eventually(
        lambda: api.orders.post(f"/outlets/{BELU}/orders/{order_id}/return", headers=as_outlet(BELU)),
        lambda r: r.status_code != 409,
        timeout=60,
        interval=1,
        what="the collection deadline",
    )
    assert returned.status_code == 200, returned.text
    assert [p["status"] for p in returned.json()["parcels"]] == ["RETURNED"]
    assert (await api.order(order_id))["status"] == "PAID"  # the courier part is still on its way

    # The existing refund path: a Midtrans refund of exactly the returned lines, their levy reversed.
    async def ledger() -> list[dict[str, Any]]:
        return (await api.payments.get("/finance/ledger", params={"order_id": order_id})).json()["items"]

    entries = await eventually(ledger, lambda e: any(x["kind"] == "reversal" for x in e), timeout=60, what="levy reversal")
    await payments_caught_up(api, system, order_id)
    entries = await ledger()
    reversals = [e for e in entries if e["kind"] == "reversal"]
    assert [(e["product_id"], e["gross"], e["levy"]) for e in reversals] == [(cloth["id"], -420_000, -4_200)]
    assert (await api.payments.get(f"/payments/{order_id}")).json()["status"] == "PARTIALLY_REFUNDED"
    status = (await api.midtrans.get(f"/v2/{order_id}/status", headers=MIDTRANS_AUTH)).json()
    assert int(float(status["refund_amount"])) == 420_000
    await kinds_in_inbox(api, shopper["email"], "pickup_returned", 1)

    assert (await ship(api, order_id, roaster["id"], "JNE", "JNE0099887766")).status_code == 200
    assert (await confirm(api, order_id, roaster["id"])).status_code == 200
    final = await api.order(order_id)
    assert final["status"] == "COMPLETED" and [s["status"] for s in final["sub_orders"]] == ["RETURNED", "COMPLETED"]
    assert len([e for e in await ledger() if e["kind"] == "reversal"]) == 1
