"""The PAD levy ledger as the province's finance office sees it: hash-chained entries, the
verify endpoint catching a stored entry altered in the database, the gross identity check,
the levy stream on Kafka, month closing, and the seller's statement."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from beli_contracts.topics import PAYMENTS_EVENTS
from beli_runtime.clock import WITA
from beli_runtime.errors import Refused
from beli_runtime.mongo import in_transaction
from infra.apps import DEV_LEDGER_KEY
from payments.closing import PeriodClosing
from payments.domain import levy_for
from payments.ledger import LevyLedger
from payments.levy import period_of
from payments.signing import StatementSigner
from tests.support import Api, System, read_events


async def paid_order(api: Api, items: list[tuple[dict[str, Any], int]]) -> str:
    """Place, get the Midtrans link, pay at the simulator, wait until the order is PAID."""
    placed = await api.place([(product["id"], quantity) for product, quantity in items])
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    await api.payable(order_id)
    await api.pay(order_id, "settlement")
    await api.order_reaches(order_id, "PAID")
    return order_id


def today_wita() -> str:
    return datetime.now(WITA).strftime("%Y-%m-%d")


def payments_db(system: System) -> Any:
    return AsyncMongoClient(system.endpoints.mongodb_url, tz_aware=True)["beli_payments"]


async def finance(api: Api, path: str, **params: Any) -> dict[str, Any]:
    response = await api.payments.get(f"/finance/{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_line_is_chained_and_verify_catches_an_entry_altered_in_the_database(api: Api, system: System) -> None:
    seller = await api.seller("Lembata")
    honey = await api.product(seller, price=87_550, stock=10, category="madu", name="Madu Lembata")
    salt = await api.product(seller, price=12_345, stock=10, category="garam", name="Garam Lembata")
    order_id = await paid_order(api, [(honey, 3), (salt, 2)])

    listed = await finance(api, "ledger", order_id=order_id)
    entries = listed["items"]
    assert [(e["product_id"], e["gross"], e["levy"], e["seller_payable"]) for e in entries] == [
        (honey["id"], 262_650, levy_for(262_650, 100), 262_650 - levy_for(262_650, 100)),
        (salt["id"], 24_690, 247, 24_690 - 247),
    ]  # 246.9 rounds to 247
    assert entries[1]["sequence"] == entries[0]["sequence"] + 1 and entries[1]["prev_hash"] == entries[0]["hash"]
    assert all((e["rule_id"], e["rule_version"], e["rate_bps"], e["regency"]) == ("default", 1, 100, "Lembata") for e in entries)
    assert entries[0]["period"] == period_of(datetime.now(UTC)) and entries[0]["recorded_at_wita"].endswith("WITA")
    assert (await finance(api, "verify"))["ok"] is True

    db = payments_db(system)
    target = entries[0]["entry_id"]
    await db["levy_entries"].update_one({"_id": target}, {"$set": {"levy": 1}})
    try:
        verdict = await finance(api, "verify")
        assert verdict["ok"] is False
        assert verdict["first_broken"]["entry_id"] == target and "altered" in verdict["first_broken"]["reason"]
        # Scoped to this order: other tests leave differences of their own on purpose.
        identity = await finance(api, "checks/gross-identity", order_id=order_id, **{"from": today_wita(), "to": today_wita()})
        assert identity["ok"] is False
        assert [f["order_id"] for f in identity["failures"]] == [order_id]
        assert identity["failures"][0]["difference"] == levy_for(262_650, 100) - 1
    finally:
        await db["levy_entries"].update_one({"_id": target}, {"$set": {"levy": levy_for(262_650, 100)}})
    assert (await finance(api, "verify"))["ok"] is True
    assert (await finance(api, "checks/gross-identity", order_id=order_id, **{"from": today_wita(), "to": today_wita()}))["ok"] is True


async def test_levy_recorded_goes_on_kafka_for_other_consumers(api: Api, system: System) -> None:
    product = await api.product(await api.seller("Malaka"), price=40_000, stock=5, category="pangan", name="Jagung bose Malaka")
    order_id = await paid_order(api, [(product, 2)])
    [event] = await read_events(
        system.endpoints.kafka_bootstrap,
        PAYMENTS_EVENTS,
        lambda e: e.type == "payments.levy_recorded" and e.data["order_id"] == order_id,
        count=1,
    )
    found = {"data": event.data}
    entry = found["data"]["entries"][0]
    ledger = (await finance(api, "ledger", order_id=order_id))["items"][0]
    assert (entry["levy"], entry["gross"], entry["hash"], entry["sequence"]) == (800, 80_000, ledger["hash"], ledger["sequence"])


async def test_paging_statement_and_summary_totals_equal_the_entries_they_cover(api: Api) -> None:
    seller = await api.seller("Sumba Tengah")
    cloth = await api.product(seller, price=333_333, stock=20, category="tenun", name="Kain Sumba Tengah")
    orders = [await paid_order(api, [(cloth, quantity)]) for quantity in (1, 2, 3)]

    pages, after = [], 0
    while True:
        page = await finance(api, "ledger", seller_id=seller["id"], limit=2, after=after)
        pages.append(page["items"])
        if page["next_cursor"] is None:
            break
        after = page["next_cursor"]
    assert [len(p) for p in pages] == [2, 1]
    assert [e["order_id"] for p in pages for e in p] == orders

    statement = (await api.payments.get(f"/sellers/{seller['id']}/statement", headers=api.as_seller(seller))).json()
    other = await api.seller("Sumba Tengah")
    assert (await api.payments.get(f"/sellers/{seller['id']}/statement", headers=api.as_seller(other))).status_code == 403
    assert (await api.payments.get("/finance/ledger", headers=api.as_seller(seller))).status_code == 403
    assert (await api.payments.get("/finance/ledger", headers={"Authorization": ""})).status_code == 401
    grosses = [333_333, 666_666, 999_999]
    levies = [levy_for(g, 100) for g in grosses]
    assert [(line["gross"], line["levy"], line["seller_payable"]) for line in statement["lines"]] == [
        (g, lv, g - lv) for g, lv in zip(grosses, levies, strict=True)
    ]
    assert statement["totals"] == {"entries": 3, "gross": sum(grosses), "levy": sum(levies), "seller_payable": sum(grosses) - sum(levies)}
    by_category = await finance(api, "summary", group_by="category", seller_id=seller["id"])
    assert by_category["rows"] == [{"key": "tenun", **statement["totals"]}] and by_category["totals"] == statement["totals"]


class RecordingOutbox:
    """Keeps what a closing would publish, for the test to read."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, str]] = []

    async def add(self, session: Any, payload: Any, *, key: str) -> None:
        self.events.append((payload, key))


def dev_signer() -> StatementSigner:
    return StatementSigner(DEV_LEDGER_KEY.read_text())


class ScratchRuntime:
    """What PeriodClosing needs of a service runtime, on a scratch database of the test's own."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]]) -> None:
        self.client = client
        self.outbox = RecordingOutbox()

    async def write(self, work: Any) -> Any:
        return await in_transaction(self.client, work)


async def test_month_closing_stores_totals_and_head_and_later_entries_go_to_the_open_month(api: Api, system: System) -> None:
    now = datetime.now(UTC)
    this_month = period_of(now)
    late_at = now.astimezone(WITA).replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(minutes=1)
    last_month = period_of(late_at)
    refused = await api.payments.post(f"/finance/periods/{this_month}/close", json={"note": "terlalu cepat"})
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "period"
    bad = await api.payments.post("/finance/periods/2025-13/close")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "period"
    # Only months from the ledger's first one on (this test stack's ledger began this month).
    for before_the_ledger in ("0000-01", last_month):
        early = await api.payments.post(f"/finance/periods/{before_the_ledger}/close")
        assert early.status_code == 422 and early.json()["errors"][0]["field"] == "period", early.text
    assert (await finance(api, "periods"))["items"] == []

    # A ledger that began last month, on a scratch database: last month can be closed, once.
    client = AsyncMongoClient(system.endpoints.mongodb_url, tz_aware=True)
    await client.drop_database("levy_period_test")
    ledger = LevyLedger(client["levy_period_test"])
    audit = PeriodClosing(ScratchRuntime(client), ledger, dev_signer())  # type: ignore[arg-type]
    draft = {"_id": "early:p:levy", "kind": "levy", "gross": 100, "levy": 1, "seller_payable": 99}
    await in_transaction(client, lambda s: ledger.append(s, [draft], late_at))
    two_months_ago = period_of(late_at.replace(day=1) - timedelta(days=1))
    with pytest.raises(Refused) as before_first:
        await audit.close(two_months_ago, "uji", "")
    assert before_first.value.status == 422
    head = await ledger.head()
    closed = await audit.close(last_month, "uji", "tutup buku")
    assert (closed["head_hash"], closed["entries"], closed["levy"]) == (head.hash, 1, 1)
    with pytest.raises(Refused) as twice:
        await audit.close(last_month, "uji", "")
    assert twice.value.status == 409
    assert [c["_id"] for c in await audit.closings()] == [last_month]

    # A late write dated in the closed month (e.g. committed just after midnight) is counted in
    # the open month and remembers where it belonged.
    late = await in_transaction(
        client, lambda s: ledger.append(s, [{"_id": "late:p:levy", "kind": "levy", "gross": 100, "levy": 1, "seller_payable": 99}], late_at)
    )
    assert (late[0]["period"], late[0]["original_period"]) == (this_month, last_month)
    assert (await ledger.verify())["ok"] is True
    await client.drop_database("levy_period_test")
