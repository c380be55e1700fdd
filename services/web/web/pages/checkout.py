"""Checkout: per-seller sub-totals and the PAD contribution, then Midtrans Snap."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from web.backend import Backend, BackendError
from web.deps import backend
from web.pages.cart import by_seller, change_cart, priced_lines, read_cart, same_line
from web.render import page
from web.security import shopper
from web.sessions import Session

router = APIRouter()
Shopper = Annotated[Session, Depends(shopper)]
# How long the checkout POST waits for the payment link before showing the order page (which
# then refreshes itself until the link is there).
LINK_WAIT_SECONDS = 6.0


async def levy_quote(api: Backend, lines: list[dict[str, Any]]) -> int | None:
    """What the PAD levy would be now; None if payments cannot say (the page says so)."""
    if not lines:
        return 0
    body = {"lines": [{"category": line["category"], "regency": line["regency"], "amount": line["subtotal"]} for line in lines]}
    try:
        answer = await api.call(None, "POST", "payments", "/levy/quote", json=body)
    except BackendError:
        return None
    return int(answer["total_levy"])


async def pickup_outlets(api: Backend) -> list[dict[str, Any]]:
    """The NTT Mart outlets open for pick-up (orders' own list); none if orders cannot say:
    the shopper can still check out by courier."""
    try:
        return list((await api.call(None, "GET", "orders", "/outlets"))["items"])
    except BackendError:
        return []


def chosen_deliveries(form: Any, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each seller's choice from the form field `antar-<seller id>`: "kurir" or an outlet id."""
    deliveries = []
    for group in groups:
        choice = str(form.get(f"antar-{group['seller_id']}") or "kurir")
        if choice == "kurir":
            deliveries.append({"seller_id": group["seller_id"], "method": "courier"})
        else:
            deliveries.append({"seller_id": group["seller_id"], "method": "pickup", "outlet_id": choice[:64]})
    return deliveries


async def summary(api: Backend, session: Session) -> dict[str, Any]:
    cart = await read_cart(api, session)
    lines = await priced_lines(api, cart["items"])
    available = [line for line in lines if not line["missing"]]
    groups = by_seller(available)
    total = sum(group["subtotal"] for group in groups)
    return {
        "groups": groups,
        "total": total,
        "levy": await levy_quote(api, available),
        "lines": available,
        "dropped": len(lines) - len(available),
        "outlets": await pickup_outlets(api),
    }


@router.get("/checkout")
async def checkout_page(request: Request, session: Shopper) -> Response:
    found = await summary(backend(request), session)
    if not found["lines"]:
        session.flash("Keranjang Anda kosong.", "info")
        return RedirectResponse("/keranjang", status_code=303)
    account = session.account or {}
    values = {"name": account.get("name", ""), "email": account.get("email", ""), "phone": account.get("phone", "")}
    # One key per checkout page: pressing "Bayar" twice (or reloading the POST) places one order.
    return page(request, "cart/checkout.html", title="Checkout", values=values, errors={}, key=uuid.uuid4().hex, chosen={}, **found)


@router.post("/checkout")
async def place_order(
    request: Request,
    session: Shopper,
    key: Annotated[str, Form()],
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    api = backend(request)
    found = await summary(api, session)
    values = {"name": name.strip(), "email": email.strip(), "phone": phone.strip()}
    if not found["lines"]:
        session.flash("Keranjang Anda kosong.", "info")
        return RedirectResponse("/keranjang", status_code=303)
    items = [
        {"product_id": line["product_id"], "quantity": line["quantity"]}
        | ({"variant_id": line["variant_id"]} if line.get("variant_id") else {})
        for line in found["lines"]
    ]
    deliveries = chosen_deliveries(await request.form(), found["groups"])
    body = {"customer": values, "items": items} | ({"deliveries": deliveries} if any(d["method"] == "pickup" for d in deliveries) else {})
    try:
        created = await api.call(session, "POST", "orders", "/orders", json=body, headers={"Idempotency-Key": key[:100]})
    except BackendError as error:
        if error.status not in (400, 409, 422):
            raise
        errors = error.field_errors()
        chosen = {d["seller_id"]: d.get("outlet_id", "kurir") for d in deliveries}
        return page(
            request,
            "cart/checkout.html",
            400,
            title="Checkout",
            values=values,
            errors=errors,
            key=key,
            error=error.message,
            chosen=chosen,
            **found,
        )
    ordered = {(item["product_id"], item.get("variant_id")) for item in items}
    await change_cart(api, session, lambda lines: [line for line in lines if not any(same_line(line, *chosen) for chosen in ordered)])
    order_id = created["id"]
    redirect_url = await wait_for_payment_link(api, session, order_id)
    if redirect_url:
        return RedirectResponse(redirect_url, status_code=303)
    return RedirectResponse(f"/pesanan/{order_id}?bayar=1", status_code=303)


async def wait_for_payment_link(api: Backend, session: Session, order_id: str) -> str | None:
    """The catalog reserves stock and payments opens the Snap transaction in the background:
    usually within a second or two. Not there in time: the order page takes over."""
    deadline = time.monotonic() + LINK_WAIT_SECONDS
    while time.monotonic() < deadline:
        order = await api.get(session, "orders", f"/orders/{order_id}")
        if order["status"] != "PENDING" and order["status"] != "AWAITING_PAYMENT":
            return None
        if order.get("payment"):
            return str(order["payment"]["redirect_url"])
        await asyncio.sleep(0.3)
    return None
