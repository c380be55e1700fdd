"""Midtrans's notifications stored as they arrive, the ones that arrive together in one write
(issue 11: one insert per paid order was the webhook's whole cost). The notifications received
while a write is under way wait for it and share the next one (group_commit.py): one
`insert_many` (unordered) for the group, and a quiet shop adds no wait (the first is written at
once). Each request answers only once its own notification is stored, with its own outcome: a
notification already kept (the same order, status, code, transaction and signature: Midtrans
delivers at least once) is a duplicate, as it was alone; another document's error is that
document's alone; a database that cannot be reached fails the group, and each request answers 503
(Midtrans sends it again).

The job that acts on the notifications is handed the ones stored here (`due`): while they keep
coming it reads the stored ones at most every `LOOK_EVERY_SECONDS`, not once per step (issue 11).
A hand-over is only a shortcut: every notification is stored before it is answered, and the job's
look (its first step, a step with nothing handed, and at least every second) finds whatever was not
handed: notifications stored by another instance or before a restart, and those waiting for a retry."""

import hashlib
import time
from collections.abc import Sequence
from typing import Any

from pymongo.errors import BulkWriteError, WriteError

from beli_runtime import tracing
from beli_runtime.clock import utcnow
from beli_runtime.group_commit import GroupCommit
from beli_runtime.mongo import DUPLICATE_KEY, database_unavailable
from payments.documents import MidtransNotification
from payments.store import NOTIFICATIONS_AT_ONCE, PaymentsStore

# Fields that make a notification distinct: a repeat of all of them is the same notification.
IDENTITY = ("order_id", "transaction_status", "status_code", "transaction_id", "signature_key")
# While notifications are handed over, the job still reads the stored ones this often (retries).
LOOK_EVERY_SECONDS = 1.0


def receipt(body: dict[str, Any]) -> dict[str, Any]:
    """The stored notification; built in the request, so it keeps that request's trace."""
    identity = "|".join(str(body.get(field, "")) for field in IDENTITY)
    now = utcnow()
    return {
        "_id": hashlib.sha256(identity.encode()).hexdigest(),
        "order_id": str(body["order_id"]),
        "body": body,
        "received_at": now,
        "processed": False,
        "attempts": 0,
        "next_attempt_at": now,
        **({"trace": trace} if (trace := tracing.carrier()) else {}),
    }


class NotificationReceipts:
    def __init__(self, store: PaymentsStore, look_every: float = LOOK_EVERY_SECONDS) -> None:
        self._store = store
        self._look_every = look_every
        self._handed: dict[str, MidtransNotification] = {}  # stored here since the job's last step
        self._overflow = False  # more were stored than a step takes: the next step looks
        self._looked_at = float("-inf")  # when the job last read the stored notifications (monotonic)
        self._looked: set[str] = set()  # what that look found, in case a hand-over raced it
        # One writer: the notifications arriving while it writes make its next group.
        self._queue: GroupCommit[dict[str, Any], bool | WriteError] = GroupCommit(
            self._keep, "notification receipts", not_the_items_fault=database_unavailable
        )

    async def record(self, body: dict[str, Any]) -> bool:
        """Keep the notification once it is stored; False if it was kept before (a duplicate)."""
        document = receipt(body)
        outcome = await self._queue.submit(document)
        if isinstance(outcome, WriteError):
            raise outcome
        if outcome:
            self._hand_over(document)
        return outcome

    def _hand_over(self, document: dict[str, Any]) -> None:
        if len(self._handed) >= NOTIFICATIONS_AT_ONCE:
            self._overflow = True  # left to the look: a job on another instance may hold the lease
            return
        self._handed[document["_id"]] = MidtransNotification.from_document(document)

    async def due(self) -> list[MidtransNotification]:
        """The notifications the job's step works on: those handed over since its last step, or
        every due one read from the database (see the module's docstring for when)."""
        now = time.monotonic()
        handed = [notice for notice in self._handed.values() if notice.id not in self._looked]
        self._handed = {}  # before the look: what is stored from here on is handed to the next step
        if handed and not self._overflow and now - self._looked_at < self._look_every:
            return handed
        self._overflow, self._looked_at = False, now
        found = await self._store.notifications_due()
        self._looked = {notice.id for notice in found}
        return found

    async def _keep(self, receipts: Sequence[dict[str, Any]]) -> list[bool | WriteError]:
        """One unordered insert: every document is tried, and the server says which failed."""
        try:
            await self._store.notifications.insert_many(list(receipts), ordered=False)
        except BulkWriteError as error:
            if error.details.get("writeConcernErrors"):
                raise  # not known to be durable: no request of the group is answered 200
            failed = {e["index"]: e for e in error.details.get("writeErrors", [])}
            return [_outcome(failed.get(index)) for index in range(len(receipts))]
        return [True] * len(receipts)


def _outcome(error: dict[str, Any] | None) -> bool | WriteError:
    if error is None:
        return True
    if error.get("code") == DUPLICATE_KEY:
        return False
    return WriteError(error.get("errmsg", "the notification was not stored"), error.get("code"), error)
