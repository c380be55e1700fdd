"""Start-up migrations of `deliveries`, run before the sending job; each step is idempotent, and
a step finds nothing to do once done (a second start-up, or every start-up after the deploy).

Messages stored before a message carried its e-mail (`channel` "inbox" beside a `…:email`
delivery) need none: the inbox finds messages by their read mark and the sending job deliveries by
their channel and `due_at`, whichever document holds them (store.py)."""

from __future__ import annotations

from beli_runtime.clock import utcnow
from notifications.store import INBOX, NotificationsStore, insert_once

BATCH = 500


async def migrate(store: NotificationsStore) -> None:
    await add_due_at(store)
    await move_messages(store)


async def add_due_at(store: NotificationsStore) -> None:
    """Deliveries stored before `due_at` existed get it if they still have to go out (only
    those without one)."""
    old = store.deliveries.find({"status": {"$in": ["pending", "sending"]}, "due_at": {"$exists": False}}, {"next_attempt_at": 1})
    async for doc in old:
        due = doc.get("next_attempt_at") or utcnow()
        await store.deliveries.update_one({"_id": doc["_id"], "due_at": {"$exists": False}}, {"$set": {"due_at": due}})


async def move_messages(store: NotificationsStore) -> None:
    """Inbox messages stored in `messages` by earlier versions join their deliveries (channel
    `inbox`, same id, read marks kept), batch by batch: copied where not there yet, then
    deleted. A crash in between copies nothing twice on the next start; an earlier version
    still running during a rolling deploy leaves messages that the next start-up moves."""
    while batch := await store.legacy_messages.find({}).limit(BATCH).to_list():
        await store.deliveries.bulk_write([insert_once(doc | {"channel": INBOX}) for doc in batch], ordered=False)
        await store.legacy_messages.delete_many({"_id": {"$in": [doc["_id"] for doc in batch]}})
