"""Leases in MongoDB: one instance at a time runs a background job (relay, sweeper)."""

import uuid
from datetime import timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database


class Lease:
    def __init__(self, db: Database, name: str, seconds: float) -> None:
        self._leases = db["leases"]
        self.name = name
        self.owner = uuid.uuid4().hex
        self.seconds = seconds

    async def acquire(self) -> bool:
        """Take or renew the lease; False while another live instance holds it."""
        now = utcnow()
        try:
            held = await self._leases.find_one_and_update(
                {"_id": self.name, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + timedelta(seconds=self.seconds)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # the upsert lost to a holder whose lease is still valid
        return held is not None and held["owner"] == self.owner

    async def release(self) -> None:
        await self._leases.delete_one({"_id": self.name, "owner": self.owner})
