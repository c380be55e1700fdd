"""Notifications HTTP routes: the in-app inbox, preferences, and the admin view of deliveries.

`inbox_owner` is the one place that decides whose inbox a request reads: the signed-in user's
(the e-mail in the verified token); only an operator may name another with `?recipient=`.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from beli_runtime.auth import CurrentPrincipal, Role, require_role
from beli_runtime.http import ApiError
from beli_runtime.strict import StrictRequest
from notifications.domain import CHANNELS, KINDS, Channel
from notifications.phones import InvalidPhone, to_e164
from notifications.preferences import SavedPreferences
from notifications.settings import NotificationsSettings
from notifications.store import NotificationsStore


class MessageOut(BaseModel):
    id: str
    kind: str
    order_id: str | None
    recipient: str
    email: str | None
    phone: str | None
    subject: str
    text: str
    read: bool
    created_at: datetime


class UnreadOut(BaseModel):
    unread: int


class PreferencesIn(StrictRequest):
    channels: dict[str, list[Channel]] = Field(description="kind -> channels; kinds left out keep their setting")


class PreferencesOut(BaseModel):
    recipient: str
    channels: dict[str, list[str]]
    transactional: list[str] = Field(description="kinds that always go to at least one channel")


class DeliveryOut(BaseModel):
    id: str
    message_id: str
    kind: str
    channel: str
    recipient: str
    address: str | None
    order_id: str | None
    status: str
    attempts: int
    last_error: str | None
    errors: list[dict[str, Any]]
    provider_id: str | None
    created_at: datetime
    sent_at: datetime | None


def message_view(doc: dict[str, Any]) -> MessageOut:
    return MessageOut(id=doc["_id"], **{name: doc.get(name) for name in MessageOut.model_fields if name != "id"})


def delivery_view(doc: dict[str, Any]) -> DeliveryOut:
    return DeliveryOut(id=doc["_id"], **{name: doc.get(name) for name in DeliveryOut.model_fields if name != "id"})


def build_router(
    store: NotificationsStore, saved: SavedPreferences, settings: NotificationsSettings, wake_senders: Callable[[], None]
) -> APIRouter:
    router = APIRouter(tags=["notifications"])
    inbox_owner = _inbox_owner(settings)
    _register_inbox(router, store, inbox_owner)
    _register_preferences(router, store, saved, inbox_owner)
    _register_admin(router, store, settings, wake_senders)
    _register_kinds(router)
    return router


def _inbox_owner(settings: NotificationsSettings) -> Callable[..., dict[str, Any]]:
    """The dependency that names whose inbox a request reads (a query on the messages)."""

    def inbox_owner(
        principal: CurrentPrincipal,
        recipient: Annotated[
            str | None, Query(min_length=3, max_length=200, description="Admins only: whose inbox (e-mail or phone)")
        ] = None,
    ) -> dict[str, Any]:
        """Everyone reads their own inbox (the e-mail in their token); an operator may name any."""
        if recipient is None or principal.role is not Role.ADMIN:
            if recipient is not None and recipient.strip().lower() != (principal.email or "").lower():
                raise ApiError(403, "you can only read your own notifications", field="recipient")
            if not principal.email:
                raise ApiError(422, "your account has no e-mail address, so it has no inbox")
            if not principal.email_verified:
                raise ApiError(403, "e-mail Anda belum diverifikasi, jadi belum ada kotak masuk untuknya")
            return {"recipient": principal.email.lower()}
        recipient = recipient.strip()
        if "@" in recipient:
            return {"recipient": recipient.lower()}
        try:
            return {"phone": to_e164(recipient, settings.default_phone_region)}
        except InvalidPhone as invalid:
            raise ApiError(422, str(invalid), field="recipient") from None

    return inbox_owner


def _register_inbox(router: APIRouter, store: NotificationsStore, inbox_owner: Callable[..., dict[str, Any]]) -> None:
    Owner = Annotated[dict[str, Any], Depends(inbox_owner)]

    @router.get("/notifications", response_model=list[MessageOut], summary="The inbox, newest first")
    async def list_notifications(
        owner: Owner, limit: Annotated[int, Query(ge=1, le=100)] = 50, unread_only: bool = False
    ) -> list[MessageOut]:
        return [message_view(doc) for doc in await store.inbox(owner, limit, unread_only)]

    @router.get("/notifications/unread-count", response_model=UnreadOut)
    async def unread_count(owner: Owner) -> UnreadOut:
        return UnreadOut(unread=await store.unread_count(owner))

    @router.post("/notifications/read-all", summary="Mark every message read")
    async def read_all(owner: Owner) -> dict[str, int]:
        return {"marked": await store.mark_read(owner, None)}

    @router.post("/notifications/{message_id}/read", response_model=MessageOut, summary="Mark one message read")
    async def read_one(message_id: str, owner: Owner) -> MessageOut:
        await store.mark_read(owner, [message_id])
        doc = await store.message(owner, message_id)
        if doc is None:  # someone else's message is "not found" too: no probing of other inboxes
            raise ApiError(404, f"no message {message_id} in this inbox")
        return message_view(doc)


async def _preferences_view(store: NotificationsStore, recipient: str) -> PreferencesOut:
    chosen = await store.preferences_of(None, recipient)
    channels = {name: chosen.get(name, list(kind.default_channels)) for name, kind in KINDS.items()}
    return PreferencesOut(
        recipient=recipient, channels=channels, transactional=[name for name, kind in KINDS.items() if kind.transactional]
    )


def _register_preferences(
    router: APIRouter, store: NotificationsStore, saved: SavedPreferences, inbox_owner: Callable[..., dict[str, Any]]
) -> None:
    Owner = Annotated[dict[str, Any], Depends(inbox_owner)]

    def email_owner(owner: Owner) -> str:
        if "recipient" not in owner:
            raise ApiError(422, "preferences belong to an e-mail address", field="recipient")
        return str(owner["recipient"])

    @router.get(
        "/notifications/preferences",
        response_model=PreferencesOut,
        summary="Which channels carry which kind of message (defaults filled in)",
    )
    async def get_preferences(recipient: Annotated[str, Depends(email_owner)]) -> PreferencesOut:
        return await _preferences_view(store, recipient)

    @router.put("/notifications/preferences", response_model=PreferencesOut)
    async def put_preferences(body: PreferencesIn, recipient: Annotated[str, Depends(email_owner)]) -> PreferencesOut:
        current = await store.preferences_of(None, recipient)
        for name, channels in body.channels.items():
            kind = KINDS.get(name)
            if kind is None:
                raise ApiError(422, f"unknown message kind {name!r}; known: {', '.join(KINDS)}", field=f"channels.{name}")
            if kind.transactional and not channels:
                raise ApiError(
                    422, f"{name} is a transactional message: keep at least one of {', '.join(CHANNELS)}", field=f"channels.{name}"
                )
            current[name] = list(dict.fromkeys(channels))
        await saved.save(recipient, current)
        return await _preferences_view(store, recipient)


def _register_admin(
    router: APIRouter, store: NotificationsStore, settings: NotificationsSettings, wake_senders: Callable[[], None]
) -> None:
    operator = Depends(require_role(Role.ADMIN))

    @router.get(
        "/admin/notifications/deliveries",
        response_model=list[DeliveryOut],
        tags=["admin"],
        dependencies=[operator],
        summary="Deliveries by status (e.g. failed), channel, order or recipient",
    )
    async def list_deliveries(
        status: str | None = None,
        channel: str | None = None,
        order_id: str | None = None,
        recipient: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[DeliveryOut]:
        query = {
            name: value
            for name, value in (
                ("status", status),
                ("channel", channel),
                ("order_id", order_id),
                ("recipient", recipient and recipient.strip().lower()),
            )
            if value
        }
        return [delivery_view(doc) for doc in await store.list_deliveries(query, limit)]

    @router.post(
        "/admin/notifications/deliveries/{delivery_id}/resend",
        response_model=DeliveryOut,
        tags=["admin"],
        dependencies=[operator],
        summary="Send a failed delivery again (same provider idempotency key)",
    )
    async def resend(delivery_id: str) -> DeliveryOut:
        doc = await store.resend(delivery_id, by="admin")
        if doc is None:
            raise ApiError(409, f"delivery {delivery_id} is not failed (or does not exist): only failed ones are resent")
        wake_senders()
        return delivery_view(doc)

    @router.get(
        "/admin/notifications/finance-recipients",
        tags=["admin"],
        dependencies=[operator],
        summary="FINANCE_EMAILS and whether each is a staff account (only those get finance mail)",
    )
    async def finance_recipients() -> list[dict[str, Any]]:
        staff = set(await store.staff_emails(None, settings.finance_recipients))
        return [{"email": email.lower(), "staff_account": email.lower() in staff} for email in settings.finance_recipients]


def _register_kinds(router: APIRouter) -> None:
    @router.get("/notifications/kinds", summary="Every kind of message, its audience and default channels")
    async def kinds() -> list[dict[str, Any]]:
        return [
            {
                "kind": k.name,
                "audience": k.audience,
                "transactional": k.transactional,
                "default_channels": list(k.default_channels),
                "description": k.description,
            }
            for k in KINDS.values()
        ]
