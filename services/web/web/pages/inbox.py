"""Inbox (every signed-in user has one) and notification preferences."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from web.backend import BackendError
from web.deps import backend
from web.render import page
from web.security import signed_in
from web.sessions import Session

router = APIRouter()
SignedIn = Annotated[Session, Depends(signed_in)]
CHANNEL_LABELS = {"email": "E-mail", "whatsapp": "WhatsApp", "sms": "SMS"}


@router.get("/kotak-masuk")
async def inbox(request: Request, session: SignedIn, belum_dibaca: str | None = None) -> Response:
    messages = await backend(request).get(
        session, "notifications", "/notifications", limit=50, unread_only="true" if belum_dibaca else None
    )
    return page(request, "inbox/list.html", title="Kotak masuk", messages=messages, unread_only=bool(belum_dibaca))


@router.post("/kotak-masuk/baca-semua")
async def read_all(request: Request, session: SignedIn) -> Response:
    await backend(request).call(session, "POST", "notifications", "/notifications/read-all")
    session.flash("Semua pesan ditandai sudah dibaca.", "success")
    return RedirectResponse("/kotak-masuk", status_code=303)


@router.post("/kotak-masuk/{message_id}/baca")
async def read_one(request: Request, session: SignedIn, message_id: str) -> Response:
    await backend(request).call(session, "POST", "notifications", f"/notifications/{message_id}/read")
    return RedirectResponse(f"/kotak-masuk#pesan-{message_id}", status_code=303)


async def _preferences(request: Request, session: Session) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    api = backend(request)
    chosen = await api.get(session, "notifications", "/notifications/preferences")
    kinds = await api.get(None, "notifications", "/notifications/kinds")
    audience = {"shopper": "shopper", "seller": "seller", "finance": "finance", "admin": "finance"}[session.role or "shopper"]
    return chosen, [kind for kind in kinds if kind["audience"] == audience]


@router.get("/pengaturan/notifikasi")
async def preferences(request: Request, session: SignedIn) -> Response:
    chosen, kinds = await _preferences(request, session)
    return page(
        request,
        "inbox/preferences.html",
        title="Pengaturan notifikasi",
        chosen=chosen["channels"],
        kinds=kinds,
        channels=CHANNEL_LABELS,
        errors={},
    )


@router.post("/pengaturan/notifikasi")
async def save_preferences(request: Request, session: SignedIn) -> Response:
    form = await request.form()
    _, kinds = await _preferences(request, session)
    wanted = {kind["kind"]: [channel for channel in CHANNEL_LABELS if form.get(f"{kind['kind']}:{channel}")] for kind in kinds}
    try:
        await backend(request).call(session, "PUT", "notifications", "/notifications/preferences", json={"channels": wanted})
    except BackendError as error:
        if error.status != 422:
            raise
        errors = {
            field.split(".")[-1]: "Pesan penting ini harus dikirim lewat setidaknya satu saluran."
            for field in (e.get("field", "") for e in error.errors)
        }
        return page(
            request,
            "inbox/preferences.html",
            400,
            title="Pengaturan notifikasi",
            chosen=wanted,
            kinds=kinds,
            channels=CHANNEL_LABELS,
            errors=errors,
        )
    session.flash("Pengaturan notifikasi disimpan.", "success")
    return RedirectResponse("/pengaturan/notifikasi", status_code=303)
