"""Notifications persistence: every message, once per (event, recipient, channel)."""

from typing import Any

from pymongo.errors import DuplicateKeyError

from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session, ensure_index

from notifications.domain import Message


class NotificationsStore:
    def __init__(self, db: Database) -> None:
        self.messages = db["messages"]

    async def ensure_indexes(self) -> None:
        await ensure_index(self.messages, [("email", 1), ("created_at", -1)])
        await ensure_index(self.messages, [("phone", 1), ("created_at", -1)])
        await ensure_index(self.messages, [("status", 1), ("next_attempt_at", 1)])

    async def add(self, session: Session, event_id: str, message: Message, channel: str) -> None:
        now = utcnow()
        try:
            await self.messages.insert_one({
                # One message per (event, recipient, channel), whatever redelivers the event.
                "_id": f"{event_id}:{message.email}:{channel}",
                "kind": message.kind, "channel": channel, "order_id": message.order_id,
                "email": message.email, "phone": message.phone, "subject": message.subject, "text": message.text,
                "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now, "read": False,
            }, session=session)
        except DuplicateKeyError:
            pass

    async def due(self, now: Any, limit: int = 50) -> list[dict[str, Any]]:
        return await self.messages.find({"status": "pending", "next_attempt_at": {"$lte": now}}).sort("created_at", 1).limit(limit).to_list()

    async def mark(self, message_id: str, changes: dict[str, Any]) -> None:
        await self.messages.update_one({"_id": message_id}, {"$set": changes})

    async def for_recipient(self, recipient: str, limit: int) -> list[dict[str, Any]]:
        return await self.messages.find({"$or": [{"email": recipient}, {"phone": recipient}]}).sort("created_at", -1).limit(limit).to_list()
