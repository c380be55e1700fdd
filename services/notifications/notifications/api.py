"""Notifications HTTP routes: the inbox of a recipient."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from notifications.store import NotificationsStore


class MessageOut(BaseModel):
    id: str
    kind: str
    channel: str
    order_id: str
    email: str
    phone: str
    subject: str
    text: str
    status: str
    created_at: datetime


def message_view(doc: dict[str, Any]) -> MessageOut:
    return MessageOut(id=doc["_id"], **{field: doc[field] for field in MessageOut.model_fields if field != "id"})


def build_router(store: NotificationsStore) -> APIRouter:
    router = APIRouter(tags=["notifications"])

    @router.get("/notifications", response_model=list[MessageOut])
    async def list_notifications(
        recipient: Annotated[str, Query(min_length=3, max_length=200, description="E-mail address or phone number")],
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> list[MessageOut]:
        return [message_view(doc) for doc in await store.for_recipient(recipient.strip(), limit)]

    return router
