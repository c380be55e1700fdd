"""Background jobs: a loop per job, woken early when there is new work, run under a lease that
is renewed while a step runs and fences the step's writes (see leases.py)."""

import asyncio
from collections.abc import Awaitable, Callable

from beli_runtime.leases import Lease, LeaseLost
from beli_runtime.logs import get_logger
from beli_runtime.mongo import UNAVAILABLE_ERRORS, Database
from beli_runtime.watchdog import watched

log = get_logger(__name__)

# A job returns True when it did work, so the loop goes again at once instead of sleeping.
JobStep = Callable[[], Awaitable[bool]]


class BackgroundJob:
    def __init__(self, name: str, step: JobStep, *, interval: float, db: Database, lease_seconds: float, idle_max: float = 0.0) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        # An idle job waits longer each time it finds nothing (up to idle_max), so that an idle
        # system does not keep the database busy; a wake-up or found work brings it back at once.
        self._idle_max = max(interval, idle_max)
        self._lease = Lease(db, f"job:{name}", lease_seconds)
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        wait = self._interval
        while not self._stopping:
            busy = False
            try:
                if await self._lease.acquire():
                    async with self._lease.holding():
                        busy = await watched(self._step(), f"job {self.name}")
            except asyncio.CancelledError:
                raise
            except LeaseLost as lost:
                log.warning("job.lease_lost", job=self.name, error=str(lost))
            except UNAVAILABLE_ERRORS as error:
                log.warning("job.database_unavailable", job=self.name, error=str(error))
            except Exception:
                log.exception("job.failed", job=self.name)
            if busy:
                wait = self._interval
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
                wait = self._interval
            except TimeoutError:
                wait = min(wait * 2, self._idle_max)
            self._wake.clear()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        try:
            await self._lease.release()
        except Exception:  # noqa: BLE001 - the database may be the reason we stop
            log.warning("job.lease_release_failed", job=self.name)
