"""Per-key locks inside one process: work that names the keys it will write runs one after another
with any other work naming one of the same keys, and overlaps work on other keys.

The consumer takes them for subscriptions that say, per event, what they write (e.g. an order's
product ids): handlers of concurrent partitions that would conflict on the same documents wait
for each other here instead of running into a write conflict and retrying their whole
transaction. Locks are taken in sorted order (two holders of overlapping key sets never wait for
each other in a cycle) and a key's lock is dropped once nobody holds or waits for it. Another
process's writes are not covered: the database's transaction retry still settles those.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager


class KeyLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}  # holders and waiters per key

    @asynccontextmanager
    async def holding(self, keys: Iterable[str]) -> AsyncIterator[None]:
        """Hold every key's lock for the body (none: no wait at all)."""
        counted: list[str] = []
        acquired: list[asyncio.Lock] = []
        try:
            for key in sorted(set(keys)):
                lock = self._locks.setdefault(key, asyncio.Lock())
                self._users[key] = self._users.get(key, 0) + 1
                counted.append(key)
                await lock.acquire()
                acquired.append(lock)
            yield
        finally:
            for lock in reversed(acquired):
                lock.release()
            for key in counted:
                self._users[key] -= 1
                if not self._users[key]:
                    del self._users[key]
                    del self._locks[key]

    def held(self) -> int:
        """Keys held or waited for now."""
        return len(self._locks)
