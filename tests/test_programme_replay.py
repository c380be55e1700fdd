"""The programme's figures are read models built from events: replaying every topic from offset
zero, or the same settlement again under a new event id, changes none of them. The programme's
events have no inbox rows (state-guarded): every event read again is handled again, and finds
its order's sale as it left it."""

import asyncio
import random
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from beli_contracts import Envelope
from tests.faults import restart_app
from tests.programme_support import claim, compliance, dashboard, import_opds, import_roster, new_nip, office, progress, spent_reaches, tag
from tests.support import Api, System, consumed_to_end, read_events
from tests.test_faults import reset_group_to_start

pytestmark = pytest.mark.infra


async def figures(api: Api, customer: dict[str, str], opd_id: str) -> dict[str, Any]:
    governments = (await api.programme.get("/programme/compliance/governments", headers=office())).json()
    return {
        "progress": await progress(api, customer),
        "opd": await compliance(api, office(), government="Sikka"),
        "governments": governments,
        "dashboard": await dashboard(api),
        "below": (await api.programme.get(f"/programme/compliance/opds/{opd_id}/below", headers=office())).json(),
    }


async def consumed(api: Api) -> float:
    """The events the programme's consumer handled since it started (processed or duplicates)."""
    text = (await api.programme.get("/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("events_consumed_total{"))


async def test_replaying_every_topic_and_a_re_sent_settlement_change_no_figure(api: Api, system: System) -> None:
    t = tag()
    opd_id = f"sikka-dinkes-{t}"
    await import_opds(api, [(opd_id, "Dinas Kesehatan Kabupaten Sikka", "Sikka")])
    ina = api.shopper()
    nip = new_nip(random.Random(), "2")
    await import_roster(api, [[nip, "Ina Parera", opd_id, ina["email"], ""], [new_nip(random.Random()), "Paulus Moa", opd_id, "", ""]])
    assert (await claim(api, ina, nip)).json()["status"] == "linked"
    seller = await api.seller("Sikka")
    cashew = await api.product(seller, price=45_000, stock=20, category="mete", name="Jambu mete Sikka 500 g")
    placed = (await api.place([(cashew["id"], 3)], customer=ina)).json()["id"]
    await api.payable(placed)
    await api.pay(placed)
    await api.order_reaches(placed, "PAID")
    refund = await api.payments.post(
        f"/payments/{placed}/refunds",
        json={"refund_key": f"{placed}-r", "lines": [{"product_id": cashew["id"], "quantity": 1}], "reason": "rusak"},
    )
    assert refund.status_code == 201, refund.text
    await spent_reaches(api, ina, 90_000)
    await asyncio.sleep(2)  # let the consumer commit what it has
    before = await figures(api, ina, opd_id)

    # The same settlement published again under a new event id (a producer retry, a bad replay tool).
    settled = await read_events(
        system.endpoints.kafka_bootstrap, "payments.events", lambda e: e.type == "payments.payment_settled" and e.key == placed, count=1
    )
    copy = Envelope(**(settled[0].model_dump() | {"id": uuid.uuid4()}))
    producer = AIOKafkaProducer(bootstrap_servers=system.endpoints.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("payments.events", copy.to_bytes(), key=placed.encode())
    finally:
        await producer.stop()

    bootstrap = system.endpoints.kafka_bootstrap
    system.processes["programme"].stop()
    try:
        await reset_group_to_start(bootstrap, "programme")
    finally:
        restart_app(system, "programme")
    # Every event read again, the copy too: the group commits the end of both topics once handled.
    await consumed_to_end(bootstrap, "programme", "payments.events", "orders.events", timeout=120)
    again = await consumed(api)
    assert again > 0, "the programme did not re-read anything"
    after = await figures(api, ina, opd_id)
    assert after == before
    print(f"\n[programme replay from 0] {int(again)} events handled again; figures unchanged (spent {after['progress']['spent']})")
