"""Leases against the real database: one holder at a time, taken over only after expiry, kept
while the holder works (renewal), and a holder that lost its lease cannot write (fencing)."""

import asyncio
import itertools
from datetime import timedelta
from typing import Any

import pytest

from beli_runtime.clock import utcnow
from beli_runtime.jobs import BackgroundJob
from beli_runtime.leases import Lease, LeaseLost
from beli_runtime.service import ServiceRuntime
from beli_runtime.settings import ServiceSettings
from tests.support import eventually

pytestmark = pytest.mark.infra  # the real broker and database

Scratch = Any  # the `space` fixture's type (conftest.py)


async def test_one_holder_until_the_lease_expires(space: Scratch) -> None:
    first, second = Lease(space.db, "sweeper", 1.0), Lease(space.db, "sweeper", 1.0)
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire(), "the holder renews its own lease"
    held_by_first = first.token
    await eventually(second.acquire, lambda taken: taken, timeout=10, interval=0.2, what="the lease taken over after expiry")
    assert second.token is not None and held_by_first is not None and second.token > held_by_first
    assert not await first.acquire()
    assert not first.held()
    await second.release()
    assert await first.acquire(), "a released lease is free at once"


async def test_a_job_keeps_its_lease_while_a_step_outlasts_it(space: Scratch) -> None:
    """A step three times longer than the lease (twenty slow Midtrans calls) is never overlapped."""
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow_step() -> bool:
        started.set()
        await asyncio.sleep(3.0)
        finished.set()
        return False

    job = BackgroundJob("open-links", slow_step, interval=60, db=space.db, lease_seconds=1.0)
    task = asyncio.create_task(job.run())
    try:
        await asyncio.wait_for(started.wait(), 10)
        rival = Lease(space.db, "job:open-links", 1.0)
        taken_while_running = []
        while not finished.is_set():
            if await rival.acquire():
                taken_while_running.append(utcnow())
            await asyncio.sleep(0.2)
        assert taken_while_running == [], "another instance took the lease while the step was still running"
    finally:
        await job.stop()
        await asyncio.wait_for(task, 10)


async def test_a_holder_that_lost_its_lease_cannot_write(space: Scratch) -> None:
    """The holder paused (its local clock says it still holds the lease) while another instance
    took it over: the paused holder's next write is refused and changes nothing."""
    await space.db.command("ping")
    runtime = ServiceRuntime(ServiceSettings(service_name="leasetest", mongodb_url=space.mongodb_url, mongodb_database=space.db.name))
    paused = Lease(runtime.db, "job:cancel-payments", 30.0)
    assert await paused.acquire()

    async def mark_failed(session: Any) -> None:
        await runtime.db["payments"].insert_one({"_id": "BNTT-1", "status": "FAILED"}, session=session)

    try:
        # As if the holder froze for longer than the lease: the lease expires and is taken over.
        await space.db["leases"].update_one({"_id": "job:cancel-payments"}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
        successor = Lease(runtime.db, "job:cancel-payments", 30.0)
        assert await successor.acquire()
        assert paused.held(), "locally the paused holder still believes it holds the lease"
        async with paused.holding():
            with pytest.raises(LeaseLost):
                await runtime.write(mark_failed)
        assert await space.db["payments"].find_one({"_id": "BNTT-1"}) is None
        async with successor.holding():
            await runtime.write(mark_failed)  # the current holder writes normally
        assert await space.db["payments"].find_one({"_id": "BNTT-1"}) is not None
        assert await runtime.write(lambda session: asyncio.sleep(0, "outside a job: not fenced")) == "outside a job: not fenced"
    finally:
        await runtime.client.close()


async def test_an_idle_job_polls_less_and_less_and_a_wake_up_runs_it_at_once(space: Scratch) -> None:
    """Idle, a job backs off to `idle_max` between looks (the database is not kept busy by
    nothing); the write that creates its work wakes it without waiting for the next look."""
    looks: list[float] = []
    loop = asyncio.get_running_loop()

    async def look() -> bool:
        looks.append(loop.time())
        return False

    job = BackgroundJob("idle", look, interval=0.1, db=space.db, lease_seconds=10.0, idle_max=1.6)
    task = asyncio.create_task(job.run())
    try:
        await eventually(lambda: asyncio.sleep(0, len(looks)), lambda n: n >= 6, timeout=20, interval=0.1, what="six idle looks")
        gaps = [later - earlier for earlier, later in itertools.pairwise(looks)]
        assert gaps[-1] > 4 * gaps[0], f"the gaps between idle looks did not grow: {gaps}"
        assert max(gaps) < 1.6 + 1.0, f"an idle look waited longer than idle_max: {gaps}"
        before = len(looks)
        job.wake()
        woken_at = loop.time()
        await eventually(lambda: asyncio.sleep(0, len(looks)), lambda n: n > before, timeout=5, interval=0.02, what="the woken look")
        assert looks[before] - woken_at < 0.5, "a wake-up waited for the idle backoff"
    finally:
        await job.stop()
        await asyncio.wait_for(task, 10)


async def test_a_holder_renews_in_the_database_only_when_half_its_lease_is_gone(space: Scratch) -> None:
    lease = Lease(space.db, "relay", 2.0)
    assert await lease.acquire()
    written = (await space.db["leases"].find_one({"_id": "relay"}))["expires_at"]
    assert await lease.acquire()
    assert (await space.db["leases"].find_one({"_id": "relay"}))["expires_at"] == written, "renewed with most of the lease left"
    await asyncio.sleep(1.1)
    assert await lease.acquire()
    assert (await space.db["leases"].find_one({"_id": "relay"}))["expires_at"] > written, "not renewed with under half left"


class _SwallowingLease(Lease):
    """A renewal whose database call swallows a cancellation, as PyMongo's server selection did
    while the database restarted."""

    renewals = 0

    async def acquire(self) -> bool:
        if self.token is None:
            return await super().acquire()
        self.renewals += 1
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            pass  # swallowed
        return True


async def test_a_step_ends_even_if_its_renewal_swallows_the_cancellation(space: Scratch) -> None:
    lease = _SwallowingLease(space.db, "relay", 1.5)
    assert await lease.acquire()

    async def step() -> None:
        async with lease.holding():
            await asyncio.sleep(1.0)  # long enough for a renewal to be in flight at the end

    await asyncio.wait_for(step(), timeout=5)  # before the fix: the holder waited on its renewer forever
    renewals = lease.renewals
    await asyncio.sleep(1.5)
    assert lease.renewals == renewals, "the renewer went on renewing after the step ended"
