"""The ledger's own checks must be able to fail, and must not fail falsely (issue 13, items 4-5):
verify walks only to the head it read while entries are appended; an entry written around the
chain is flagged and never counted; a closed month's head leaves the database signed, so a
rewritten chain is caught; the gross identity compares what Midtrans says it received."""

import asyncio
import base64
import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from beli_runtime.clock import WITA, utcnow
from beli_runtime.mongo import in_transaction
from payments.closing import PeriodClosing
from payments.domain import levy_for
from payments.ledger import LevyLedger
from payments.levy import entry_hash, period_of
from tests.support import Api, System
from tests.test_levy_ledger import ScratchRuntime, dev_signer, finance, paid_order, payments_db
from tests.test_levy_refunds import MIDTRANS_AUTH

SCRATCH = "levy_verify_race_test"


async def test_verify_walks_to_the_head_it_read_while_entries_are_appended(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: verify read the head, then walked without an upper bound, so an entry appended
    during the walk made a sound chain look truncated ("the chain ends at ... but the head records")."""
    monkeypatch.setattr("payments.ledger.VERIFY_BATCH", 5)  # many round trips: room for appends in between
    client = AsyncMongoClient(system.endpoints.mongodb_url, tz_aware=True)
    await client.drop_database(SCRATCH)
    ledger = LevyLedger(client[SCRATCH])
    await ledger.ensure_indexes()

    async def append(number: int) -> None:
        draft = {
            "_id": f"race:{number}:levy",
            "kind": "levy",
            "order_id": f"race-{number}",
            "gross": 1_000,
            "levy": 10,
            "seller_payable": 990,
        }
        async with client.start_session() as session:
            await session.with_transaction(lambda s: ledger.append(s, [draft], utcnow()))

    for number in range(40):
        await append(number)
    appended, verdicts = 40, []
    try:
        for _ in range(5):
            walk = asyncio.create_task(ledger.verify())
            while not walk.done():
                await append(appended)
                appended += 1
            verdicts.append(walk.result())
        assert all(v["ok"] for v in verdicts), [v["first_broken"] for v in verdicts if not v["ok"]]
        assert appended > 45, "no entry was appended during a walk: the test proved nothing"
        final = await ledger.verify()
        assert final["ok"] and final["entries_checked"] == appended == final["head_sequence"]
        print(f"\n[ledger] 5 verifies, {appended - 40} entries appended during them, no false alarm")
    finally:
        await client.drop_database(SCRATCH)
        await client.close()


async def test_an_entry_written_around_the_chain_is_flagged_and_never_counted(api: Api, system: System) -> None:
    seller = await api.seller("Belu")
    cloth = await api.product(seller, price=50_000, stock=5, category="tenun", name="Tais Belu")
    order_id = await paid_order(api, [(cloth, 1)])
    db = payments_db(system)
    entries = db["levy_entries"]
    real = await entries.find_one({"order_id": order_id})
    counted = await finance(api, "summary", group_by="seller", seller_id=seller["id"])
    assert counted["totals"] == {"entries": 1, "gross": 50_000, "levy": 500, "seller_payable": 49_500}

    forged = {k: v for k, v in real.items() if k != "sequence"} | {"_id": f"{order_id}:forged:levy", "gross": 900_000}
    await entries.insert_one(forged)
    try:
        assert (await finance(api, "summary", group_by="seller", seller_id=seller["id"]))["totals"] == counted["totals"]
        assert [e["entry_id"] for e in (await finance(api, "ledger", seller_id=seller["id"]))["items"]] == [real["_id"]]
        exported = await api.payments.get("/finance/exports/ledger", params={"seller_id": seller["id"], "format": "csv"})
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert len(rows) == 3 and int(rows[-1][rows[0].index("Bruto (Rp)")]) == 50_000
        statement = (await api.payments.get(f"/sellers/{seller['id']}/statement", headers=api.as_seller(seller))).json()
        assert statement["totals"]["gross"] == 50_000
        verdict = await finance(api, "verify")
        assert verdict["ok"] is False and verdict["first_broken"]["entry_id"] == forged["_id"], verdict
        assert "not part of the chain" in verdict["first_broken"]["reason"]
        # Two entries can never share a place in the chain.
        with pytest.raises(DuplicateKeyError):
            await entries.insert_one(real | {"_id": f"{order_id}:twin:levy"})
    finally:
        await entries.delete_many({"_id": {"$in": [forged["_id"], f"{order_id}:twin:levy"]}})
    assert (await finance(api, "verify"))["ok"] is True


async def test_a_closed_month_is_published_signed_and_a_rewritten_chain_is_caught(api: Api, system: System) -> None:
    """On a scratch ledger that began last month (the test stack's began this month, and only
    months from the ledger's first on can be closed): the closing is signed and handed to the
    outbox as payments.ledger_month_closed; the statement checks with the public key alone; a
    chain rewritten with every hash recomputed passes its own walk but not the kept statement."""
    assert (await finance(api, "signing-key"))["key_id"] == dev_signer().key_id()
    client = AsyncMongoClient(system.endpoints.mongodb_url, tz_aware=True)
    await client.drop_database(SCRATCH)
    ledger = LevyLedger(client[SCRATCH])
    runtime = ScratchRuntime(client)
    closing = PeriodClosing(runtime, ledger, dev_signer())  # type: ignore[arg-type]
    late_at = datetime.now(WITA).replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(minutes=1)
    period = period_of(late_at)
    try:
        for number in range(3):
            draft = {
                "_id": f"close:{number}:levy",
                "kind": "levy",
                "order_id": f"o-{number}",
                "gross": 10_000,
                "levy": 100,
                "seller_payable": 9_900,
            }
            await in_transaction(client, lambda s, d=draft: ledger.append(s, [d], late_at))
        closed = await closing.close(period, "bapenda@nttprov.example.id", "tutup buku uji")
        [(event, key)] = runtime.outbox.events
        assert (event.TYPE, key, event.head_sequence, event.head_hash, event.levy) == (
            "payments.ledger_month_closed",
            period,
            3,
            closed["head_hash"],
            300,
        )
        kept = await closing.statement(period)
        public = load_pem_public_key(kept["public_key"].encode())
        assert isinstance(public, Ed25519PublicKey)
        public.verify(base64.b64decode(kept["signature"]), kept["statement"].encode())  # finance's own check
        assert json.loads(kept["statement"])["head_hash"] == closed["head_hash"] == event.head_hash
        assert (await closing.check(kept["statement"], kept["signature"]))["ok"] is True
        edited = kept["statement"].replace(closed["head_hash"], "f" * 64)
        assert (await closing.check(edited, kept["signature"]))["ok"] is False
        assert (await ledger.verify(closing.signer))["ok"] is True

        # Someone with the database rewrites the whole chain consistently (every hash recomputed,
        # the head and the closing's head too): the walk alone finds nothing wrong.
        rewritten_head = await rewrite_chain(client[SCRATCH], await ledger.entries.find().sort("sequence", 1).to_list())
        await ledger.closings.update_many({}, {"$set": {"head_hash": rewritten_head}})
        verdict = await ledger.verify(closing.signer)
        assert verdict["ok"] is False and "altered after it was signed" in verdict["first_broken"]["reason"], verdict
        # Dropping the closing hides that from verify; the statement finance kept still catches it.
        await ledger.closings.delete_many({})
        assert (await ledger.verify(closing.signer))["ok"] is True
        caught = await closing.check(kept["statement"], kept["signature"])
        assert caught["ok"] is False and "rewritten" in caught["reason"], caught
    finally:
        await client.drop_database(SCRATCH)
        await client.close()


async def check(api: Api, kept: dict[str, Any]) -> dict[str, Any]:
    response = await api.payments.post("/finance/statements/check", json=kept)
    assert response.status_code == 200, response.text
    return response.json()


async def rewrite_chain(db: Any, originals: list[dict[str, Any]]) -> str:
    """Lower the first entry's levy by 1 Rupiah (payable up by 1, so the line still adds up) and rehash everything after it."""
    prev_hash = "0" * 64
    for index, original in enumerate(originals):
        entry = dict(original)
        if index == 0:
            entry["levy"] -= 1
            entry["seller_payable"] += 1
        entry["prev_hash"] = prev_hash
        entry["hash"] = prev_hash = entry_hash(entry)
        await db["levy_entries"].replace_one({"_id": entry["_id"]}, entry)
    await db["levy_ledger_meta"].update_one({"_id": "ledger_head"}, {"$set": {"hash": prev_hash}})
    return prev_hash


async def test_gross_identity_compares_what_midtrans_received_with_the_ledger(api: Api, system: System) -> None:
    seller = await api.seller("Ngada")
    coffee = await api.product(seller, price=40_000, stock=20, category="kopi", name="Kopi Bajawa")
    rewritten = await paid_order(api, [(coffee, 2)])
    refunded = await paid_order(api, [(coffee, 3)])
    assert (await identity(api, rewritten))["ok"] is True

    # An insider lowers a sale in the ledger and in our own payment record alike: the old check
    # compared those two with each other and saw nothing. Midtrans still says 80.000 came in.
    db = payments_db(system)
    [entry] = await db["levy_entries"].find({"order_id": rewritten}).to_list()
    payment = await db["payments"].find_one({"_id": rewritten})
    lowered = {"gross": 72_000, "levy": levy_for(72_000, 100), "seller_payable": 72_000 - levy_for(72_000, 100)}
    await db["levy_entries"].update_one({"_id": entry["_id"]}, {"$set": lowered})
    await db["payments"].update_one({"_id": rewritten}, {"$set": {"gross_amount": 72_000}})
    try:
        found = await identity(api, rewritten)
        assert found["ok"] is False, found
        [failure] = found["failures"]
        assert (failure["order_id"], failure["gross_received"], failure["levy_total"] + failure["seller_payable_total"]) == (
            rewritten,
            80_000,
            72_000,
        )
        assert failure["difference"] == 8_000
    finally:
        await db["levy_entries"].update_one({"_id": entry["_id"]}, {"$set": {k: entry[k] for k in lowered}})
        await db["payments"].update_one({"_id": rewritten}, {"$set": {"gross_amount": payment["gross_amount"]}})
    assert (await identity(api, rewritten))["ok"] is True

    # Money that went back through the Midtrans dashboard (no lines named, so nothing reversed):
    # Midtrans received 120.000 and returned 10.000; the ledger still explains 120.000.
    dashboard = await api.midtrans.post(
        f"/v2/{refunded}/refund", headers=MIDTRANS_AUTH, json={"refund_key": f"{refunded}-dash", "amount": 10_000, "reason": "dashboard"}
    )
    assert dashboard.status_code == 200, dashboard.text
    found = await identity(api, refunded)
    [failure] = found["failures"]
    assert (failure["midtrans_gross"], failure["midtrans_refunded"], failure["gross_received"], failure["difference"]) == (
        120_000,
        10_000,
        110_000,
        -10_000,
    )
    print(f"\n[gross identity] {rewritten}: difference {8_000}; {refunded}: difference {failure['difference']}")


async def identity(api: Api, order_id: str) -> dict[str, Any]:
    return await finance(api, "checks/gross-identity", order_id=order_id)
