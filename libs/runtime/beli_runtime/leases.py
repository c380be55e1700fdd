"""Leases in MongoDB: one instance at a time runs a background job (relay, sweepers, Midtrans calls).

A lease is held for `seconds` and renewed in the background while its holder works, so a step
that takes longer than the lease (twenty slow Midtrans calls) keeps it. Each change of holder
increments the lease's fencing token. A holder that paused (a long GC, a frozen VM, a lost
database) may still believe it holds a lease another instance took over: every write a job makes
through `ServiceRuntime.write` first checks, inside the same transaction, that the lease is still
its own with the same token (`fence`), and the transaction is refused otherwise. `ensure_held`
is the cheap local check before a call to the outside world (Midtrans) that no transaction covers.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar
from datetime import timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from beli_runtime.clock import utcnow
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Database, Session

log = get_logger(__name__)
_current: ContextVar["Lease | None"] = ContextVar("beli_current_lease", default=None)


class LeaseLost(Exception):
    """The lease expired or another instance took it over: stop, without writing."""


class Lease:
    def __init__(self, db: Database, name: str, seconds: float) -> None:
        self._leases = db["leases"]
        self.name = name
        self.owner = uuid.uuid4().hex
        self.seconds = seconds
        self.token: int | None = None  # the fencing token of our current holding
        self._held_until = 0.0  # time.monotonic() deadline, measured from before the request
        # A step that works on several items at once (overlapping their calls to Midtrans) still
        # writes one transaction at a time: every fenced write updates this lease's document, so
        # concurrent ones would only conflict with each other and retry.
        self.writing = asyncio.Lock()

    async def acquire(self) -> bool:
        """Renew our lease, or take it over if it expired; False while another instance holds it."""
        started = time.monotonic()
        if self.token is not None and self._held_until - started > self.seconds / 2:
            # Still ours for more than half the lease: the database's expiry is never earlier than
            # our local deadline (measured from before the request that set it), so a renewal now
            # would be a write that changes nothing a rival can observe.
            return True
        now = utcnow()
        until = now + timedelta(seconds=self.seconds)
        held = await self._leases.find_one_and_update(
            {"_id": self.name, "owner": self.owner}, {"$set": {"expires_at": until}}, return_document=ReturnDocument.AFTER
        )
        if held is None:
            try:
                held = await self._leases.find_one_and_update(
                    {"_id": self.name, "expires_at": {"$lt": now}},
                    {"$set": {"owner": self.owner, "expires_at": until}, "$inc": {"token": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                held = None  # the upsert lost to a holder whose lease is still valid
        if held is None or held["owner"] != self.owner:
            self.token, self._held_until = None, 0.0
            return False
        self.token, self._held_until = int(held.get("token", 0)), started + self.seconds
        return True

    def held(self) -> bool:
        return self.token is not None and time.monotonic() < self._held_until

    def ensure_held(self) -> None:
        if not self.held():
            raise LeaseLost(f"lease {self.name} is no longer held by this instance")

    async def fence(self, session: Session) -> None:
        """In the caller's transaction: refuse it unless the lease is still ours with our token.
        It writes the lease, so a concurrent take-over and this transaction cannot both commit."""
        self.ensure_held()
        result = await self._leases.update_one(
            {"_id": self.name, "owner": self.owner, "token": self.token, "expires_at": {"$gt": utcnow()}},
            {"$set": {"fenced_at": utcnow()}},
            session=session,
        )
        if result.matched_count == 0:
            token, self.token, self._held_until = self.token, None, 0.0
            raise LeaseLost(f"lease {self.name} was taken over (our token {token}) or expired")

    @contextlib.asynccontextmanager
    async def holding(self) -> AsyncIterator[None]:
        """While the body runs: renew the lease in the background, and make it the current lease
        (so that `ServiceRuntime.write` fences the body's writes with it)."""
        stop = asyncio.Event()
        renewer = asyncio.create_task(self._renew_until(stop), name=f"lease:{self.name}")
        reset = _current.set(self)
        try:
            yield
        finally:
            _current.reset(reset)
            # The renewer is told to stop, never cancelled: cancelling a PyMongo call during server
            # selection (the database restarting) broke the client's topology lock ("Lock is not
            # acquired"), after which every database call of the process waited forever; and the
            # holder waited forever on the renewer while the renewer kept its lease alive, so the
            # job (an outbox relay) stopped for good and no other instance could take it over.
            # A renewal in flight ends by itself (server selection gives up after 5 s); the holder
            # waits for it at most one lease.
            stop.set()
            await asyncio.wait({renewer}, timeout=self.seconds)

    async def _renew_until(self, stop: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.seconds / 3)
            if stop.is_set():
                return
            try:
                if not await self.acquire():
                    log.warning("lease.lost", lease=self.name)
                    return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the database may be away; the local deadline still protects us
                log.warning("lease.renew_failed", lease=self.name, error=repr(error)[:300])

    async def release(self) -> None:
        self.token, self._held_until = None, 0.0
        await self._leases.delete_one({"_id": self.name, "owner": self.owner})


def current_lease() -> Lease | None:
    """The lease the running background job holds, if the caller runs inside one."""
    return _current.get()


def ensure_held() -> None:
    """Before a call to the outside world from a job: stop if the job's lease was lost."""
    lease = _current.get()
    if lease is not None:
        lease.ensure_held()
