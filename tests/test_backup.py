"""A backup of the payments database restores into a fresh database whose levy ledger still
verifies (the chain, the head and the closed months), and a tampered restore does not."""

from pathlib import Path
from uuid import uuid4

from pymongo import AsyncMongoClient, MongoClient

from infra import backup
from payments.ledger import LevyLedger
from tests.faults import Stream
from tests.support import Api, System


async def test_restored_payments_database_verifies(api: Api, system: System, tmp_path: Path) -> None:
    stream = await Stream.stock_up(api, count=2, stock=20)
    await stream.run(api, buyers=4, seed=5, decisions=("settlement",))
    figures = await stream.converged(api, "backup: paid orders before the dump")
    assert figures["levy_entries"] > 0

    restored_name = f"beli_payments_restore_{uuid4().hex[:8]}"
    with MongoClient(system.endpoints.mongodb_url) as client:
        dumped = backup.dump(client["beli_payments"], tmp_path / "dump")
        restored = backup.restore(tmp_path / "dump", client[restored_name])
        assert restored == dumped and dumped["levy_entries"] >= figures["levy_entries"]
        original_indexes = {i["name"] for i in client["beli_payments"]["levy_entries"].list_indexes()}
        assert {i["name"] for i in client[restored_name]["levy_entries"].list_indexes()} == original_indexes

    async_client: AsyncMongoClient = AsyncMongoClient(system.endpoints.mongodb_url)
    try:
        ledger = LevyLedger(async_client[restored_name])
        verdict = await ledger.verify()
        assert verdict["ok"] is True, verdict
        assert verdict["entries_checked"] == dumped["levy_entries"]

        # The check can fail: one amount changed in the restored copy breaks the chain there.
        victim = await ledger.entries.find_one({}, sort=[("sequence", -1)])
        assert victim is not None
        await ledger.entries.update_one({"_id": victim["_id"]}, {"$inc": {"levy": 1}})
        tampered = await ledger.verify()
        assert tampered["ok"] is False and tampered["first_broken"]["sequence"] == victim["sequence"]
    finally:
        await async_client.drop_database(restored_name)
        await async_client.close()
