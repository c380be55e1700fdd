"""Who saved notification preferences, known without a look-up per event (issue 11).

Few people change the defaults, yet every event's notices read `preferences`. Each instance keeps
the set of recipients who saved preferences and the generation of that set it knows; saving
preferences, on any instance, bumps the generation in the same transaction. An event's bulk write
starts with a guard, an upsert that fails with a duplicate key when the stored generation is not
the one this instance knows (the write is ordered: it stops before any notice). The instance then
reads what changed (the generation, then the recipients who saved since) and writes the event
again. So an event's notices follow every preference saved before its write, whichever instance
saved it, and only events for people who saved preferences read them.

The generation is a document in `deliveries` (`_id` "preferences-generation"), the collection the
notices are written to, so that the guard costs no round trip of its own; no query on deliveries
matches it (they all name a channel, a recipient, a status or `due_at`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne

from beli_runtime.clock import utcnow
from beli_runtime.mongo import Session, in_transaction
from notifications.domain import Channel
from notifications.store import NotificationsStore

GENERATION_ID = "preferences-generation"


class StalePreferences(Exception):
    """Someone saved preferences since this instance last looked: nothing of the event was written."""


class SavedPreferences:
    def __init__(self, store: NotificationsStore, client: AsyncMongoClient[dict[str, Any]]) -> None:
        self._store = store
        self._client = client
        self._known: int | None = None  # None: not loaded yet
        self._savers: set[str] = set()
        self._refreshing = asyncio.Lock()

    async def load(self) -> None:
        """At start-up: the generation document exists (so that a guard never races a saving to
        create it), and who saved preferences is known."""
        await self._store.deliveries.update_one({"_id": GENERATION_ID}, {"$setOnInsert": {"generation": 0}}, upsert=True)
        await self.refresh()

    def guard(self) -> UpdateOne:
        """The first statement of an event's bulk write: it matches (and changes nothing) while
        the stored generation is the one known here; otherwise it tries to insert the generation
        document again and fails with a duplicate key."""
        known = self._known or 0
        return UpdateOne({"_id": GENERATION_ID, "generation": known}, {"$set": {"generation": known}}, upsert=True)

    async def of(self, session: Session, recipients: list[str]) -> dict[str, dict[str, list[Channel]]]:
        """The preferences of those of `recipients` who saved some (no look-up when none did)."""
        if self._known is None:
            await self.refresh()
        saved = [recipient for recipient in dict.fromkeys(recipients) if recipient in self._savers]
        return await self._store.preferences_of_all(session, saved) if saved else {}

    async def refresh(self) -> None:
        """Learn who saved preferences since the generation known here (everyone, the first time:
        preferences saved before generations existed have none). The generation is read first: a
        saving commits its preferences and the generation together, so every saving up to the one
        read is found; later ones found too only cost another refresh."""
        async with self._refreshing:
            stored = await self._store.deliveries.find_one({"_id": GENERATION_ID})
            generation = int(stored["generation"]) if stored else 0
            since = {} if self._known is None else {"generation": {"$gt": self._known}}
            self._savers |= {doc["_id"] async for doc in self._store.preferences.find(since, {"_id": 1})}
            self._known = generation

    async def save(self, recipient: str, channels: dict[str, list[Channel]]) -> None:
        async def work(session: Session) -> None:
            deliveries = self._store.deliveries
            await deliveries.update_one({"_id": GENERATION_ID}, {"$inc": {"generation": 1}}, upsert=True, session=session)
            stored = await deliveries.find_one({"_id": GENERATION_ID}, session=session)
            assert stored is not None  # written just above, in this transaction
            update = {"$set": {"channels": channels, "updated_at": utcnow(), "generation": stored["generation"]}}
            await self._store.preferences.update_one({"_id": recipient}, update, upsert=True, session=session)

        await in_transaction(self._client, work)
        self._savers.add(recipient)  # the generation known here stays: others may have saved meanwhile
