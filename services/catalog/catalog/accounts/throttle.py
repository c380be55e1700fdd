"""Login throttling whose state lives in the database, so that it holds across instances.

Three counters are kept for every attempt: the (account, address) pair, the address alone
(one machine trying many accounts) and the account alone (many machines trying one account).
Each allows some free failures; past them every further failure locks the counter for a time
that doubles (30 s, 1 min, 2 min, ... up to 15 min). A locked counter answers 429 with
Retry-After without looking at the password; when the lock runs out one attempt is checked.

The attempt is counted *before* the password is checked (a compare-and-set on the counter), so
that fifty requests sent at once cannot all slip through before the first failure is written.
A success resets the pair and gives back what it took from the others. Because the pair trips
long before the account alone, a storm from one address does not lock out the real user
signing in from another.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Database, ensure_index

TOO_MANY = "Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam {seconds} detik."


@dataclass(frozen=True)
class Limits:
    per_account_and_address: int = 5
    per_address: int = 20
    per_account: int = 50
    lock_base_seconds: float = 30.0
    lock_max_seconds: float = 900.0
    window_seconds: float = 900.0  # failures older than this are forgotten


class Throttled(ApiError):
    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(429, TOO_MANY.format(seconds=seconds), headers={"Retry-After": str(seconds)}, retry_after_seconds=seconds)


class LoginThrottle:
    def __init__(self, db: Database, limits: Limits, scope: str = "login") -> None:
        self.counters = db["login_throttle"]
        self.limits = limits
        self.scope = scope

    async def ensure_indexes(self) -> None:
        # Forgotten counters disappear by themselves (where the server sweeps TTL indexes).
        await ensure_index(self.counters, "expires_at", expireAfterSeconds=0)

    def keys(self, email: str, address: str) -> dict[str, int]:
        limits = self.limits
        return {
            f"{self.scope}:pair:{email.lower()}|{address}": limits.per_account_and_address,
            f"{self.scope}:address:{address}": limits.per_address,
            f"{self.scope}:account:{email.lower()}": limits.per_account,
        }

    async def begin(self, email: str, address: str) -> None:
        """Count this attempt as a failure until it proves otherwise; 429 if a counter is locked."""
        now = utcnow()
        for key, free in self.keys(email, address).items():
            await self._take(key, free, now)

    async def succeeded(self, email: str, address: str) -> None:
        pair, *others = self.keys(email, address)
        await self.counters.delete_one({"_id": pair})
        await self.counters.update_many({"_id": {"$in": others}, "failures": {"$gt": 0}}, {"$inc": {"failures": -1}})

    async def _take(self, key: str, free: int, now: datetime) -> None:
        for _ in range(5):  # compare-and-set: a concurrent attempt that changed it first means "look again"
            doc = await self.counters.find_one({"_id": key})
            locked_until = doc.get("locked_until") if doc else None
            if locked_until is not None and locked_until > now:
                raise Throttled((locked_until - now).total_seconds())
            forgotten = doc is None or doc["last_failure_at"] < now - timedelta(seconds=self.limits.window_seconds)
            failures = 1 if forgotten else doc["failures"] + 1  # type: ignore[index]
            changes: dict[str, Any] = {
                "failures": failures,
                "last_failure_at": now,
                "locked_until": now + self._lock(failures - free) if failures >= free else None,
                "expires_at": now + timedelta(seconds=self.limits.window_seconds + self.limits.lock_max_seconds),
            }
            if await self._swap(key, doc, changes):
                return
        raise Throttled(1)

    async def _swap(self, key: str, seen: dict[str, Any] | None, changes: dict[str, Any]) -> bool:
        if seen is None:
            try:
                await self.counters.insert_one({"_id": key, **changes})
            except DuplicateKeyError:
                return False
            return True
        result = await self.counters.update_one(
            {"_id": key, "failures": seen["failures"], "last_failure_at": seen["last_failure_at"]}, {"$set": changes}
        )
        return result.modified_count == 1

    def _lock(self, beyond: int) -> timedelta:
        seconds = min(self.limits.lock_base_seconds * 2**beyond, self.limits.lock_max_seconds)
        return timedelta(seconds=seconds)
