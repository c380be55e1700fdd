"""Background jobs: a loop per job, woken early when there is new work, run under a lease that
is renewed while a step runs and fences the step's writes (see leases.py)."""

import asyncio
import time
from collections.abc import Awaitable, Callable

from beli_runtime.leases import Lease, LeaseLost
from beli_runtime.logs import get_logger
from beli_runtime.mongo import UNAVAILABLE_ERRORS, Database
from beli_runtime.watchdog import watched

log = get_logger(__name__)

# A wake-up gathers (see BackgroundJob) only when it follows the one before by at most this many
# gather windows: under load; a lone event in a quiet system is worked on at once.
GATHER_WHEN_WAKES_WITHIN = 4

# A job returns True when there may be more work right now (it did some, or a full batch), so the
# loop goes again at once instead of sleeping.
JobStep = Callable[[], Awaitable[bool]]


class BackgroundJob:
    def __init__(
        self,
        name: str,
        step: JobStep,
        *,
        interval: float,
        db: Database,
        lease_seconds: float,
        idle_max: float = 0.0,
        gather: float = 0.0,
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        # An idle job waits longer each time it finds nothing (up to idle_max), so that an idle
        # system does not keep the database busy; a wake-up or found work brings it back at once.
        self._idle_max = max(interval, idle_max)
        # Under load, wait this long after a wake-up before the step, so that the work of the
        # wake-ups that follow closely (concurrent transactions' events) is done by the same step.
        self._gather = gather
        self._last_wake = float("-inf")
        self._busy = False  # the last two wake-ups came close together
        self._lease = Lease(db, f"job:{name}", lease_seconds)
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Another step will start after this call, even if a step is running now: the flag is
        cleared just before a step starts, so a wake-up during a step is kept for the next."""
        now = time.monotonic()
        self._busy = now - self._last_wake <= self._gather * GATHER_WHEN_WAKES_WITHIN
        self._last_wake = now
        self._wake.set()

    async def run(self) -> None:
        wait = self._interval
        while not self._stopping:
            # The work that any wake-up so far announced is committed: this step will see it.
            self._wake.clear()
            if await self._run_step():
                wait = self._interval
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                wait = min(wait * 2, self._idle_max)
                continue
            wait = self._interval
            if self._gather and self._busy and not self._stopping:
                await asyncio.sleep(self._gather)

    async def _run_step(self) -> bool:
        try:
            if await self._lease.acquire():
                async with self._lease.holding():
                    return await watched(self._step(), f"job {self.name}")
        except asyncio.CancelledError:
            raise
        except LeaseLost as lost:
            log.warning("job.lease_lost", job=self.name, error=str(lost))
        except UNAVAILABLE_ERRORS as error:
            log.warning("job.database_unavailable", job=self.name, error=str(error))
        except Exception:
            log.exception("job.failed", job=self.name)
        return False

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        try:
            await self._lease.release()
        except Exception:  # noqa: BLE001 - the database may be the reason we stop
            log.warning("job.lease_release_failed", job=self.name)
