"""The cart (kept by the orders service, so it follows the shopper across devices) and checkout."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from web.backend import Backend, BackendError
from web.deps import backend
from web.render import page
from web.security import login_url, shopper
from web.sessions import Session, current_session

router = APIRouter()
Shopper = Annotated[Session, Depends(shopper)]
MAX_QUANTITY = 1000


async def read_cart(api: Backend, session: Session) -> dict[str, Any]:
    return await api.get(session, "orders", "/cart")


async def change_cart(api: Backend, session: Session, change: Any) -> dict[str, Any]:
    """Apply `change(items) -> items` to the stored cart; if another device changed it in
    between (409), read it again and apply the change to what is there now."""
    for _ in range(3):
        cart = await read_cart(api, session)
        items = change([dict(line) for line in cart["items"]])
        try:
            return await api.call(session, "PUT", "orders", "/cart", json={"items": items, "version": cart["version"]})
        except BackendError as error:
            if error.status != 409:
                raise
    raise BackendError(409, "keranjang sedang diubah dari perangkat lain; coba lagi")


def same_line(line: dict[str, Any], product_id: str, variant_id: str | None) -> bool:
    return line["product_id"] == product_id and line.get("variant_id") == variant_id


async def priced_lines(api: Backend, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each cart line with the catalog's current name, price, stock and seller."""

    async def one(line: dict[str, Any]) -> dict[str, Any]:
        try:
            product = await api.get(None, "catalog", f"/products/{line['product_id']}")
        except BackendError as error:
            if error.status != 404:
                raise
            return line | {"missing": True, "name": "Produk tidak tersedia lagi", "unit_price": 0, "subtotal": 0, "seller_id": "-"}
        variant = next((v for v in product["variants"] if v["id"] == line.get("variant_id")), None)
        price = variant["price"] if variant else product["price"]
        stock = variant["stock"] if variant else product["stock"]
        return line | {
            "name": product["name"],
            "variant_name": variant["name"] if variant else None,
            "unit_price": price,
            "subtotal": price * line["quantity"],
            "stock": stock,
            "seller_id": product["seller_id"],
            "seller_name": product["seller_name"],
            "regency": product["regency"],
            "category": product["category"],
            "missing": not product["visible"] or (line.get("variant_id") is not None and variant is None),
        }

    return list(await asyncio.gather(*(one(line) for line in items)))


def by_seller(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for line in lines:
        group = groups.setdefault(
            line["seller_id"],
            {"seller_id": line["seller_id"], "seller_name": line.get("seller_name", "-"), "regency": line.get("regency"), "lines": []},
        )
        group["lines"].append(line)
    for group in groups.values():
        group["subtotal"] = sum(line["subtotal"] for line in group["lines"] if not line["missing"])
    return list(groups.values())


@router.get("/keranjang")
async def cart_page(request: Request, session: Shopper) -> Response:
    api = backend(request)
    cart = await read_cart(api, session)
    groups = by_seller(await priced_lines(api, cart["items"]))
    total = sum(group["subtotal"] for group in groups)
    return page(request, "cart/cart.html", title="Keranjang", groups=groups, total=total)


def _quantity(value: str) -> int | None:
    try:
        quantity = int(value)
    except ValueError:
        return None
    return quantity if 0 <= quantity <= MAX_QUANTITY else None


@router.post("/keranjang/tambah")
async def add_to_cart(
    request: Request,
    product_id: Annotated[str, Form()],
    variant_id: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "1",
) -> Response:
    session = current_session(request)
    if not session.signed_in:
        session.flash("Masuk dulu untuk menambah ke keranjang.", "info")
        return RedirectResponse(login_url(f"/produk/{product_id}"), status_code=303)
    if session.role != "shopper":
        session.flash("Hanya akun pembeli yang bisa berbelanja.", "error")
        return RedirectResponse(f"/produk/{product_id}", status_code=303)
    amount = _quantity(quantity)
    if not amount:
        session.flash(f"Jumlah harus antara 1 dan {MAX_QUANTITY}.", "error")
        return RedirectResponse(f"/produk/{product_id}", status_code=303)
    variant = variant_id or None

    def add(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for line in items:
            if same_line(line, product_id, variant):
                line["quantity"] = min(MAX_QUANTITY, line["quantity"] + amount)
                return items
        return [*items, {"product_id": product_id, "quantity": amount} | ({"variant_id": variant} if variant else {})]

    try:
        await change_cart(backend(request), session, add)
    except BackendError as error:
        if error.status not in (409, 422):
            raise
        session.flash(error.message, "error")
        return RedirectResponse(f"/produk/{product_id}", status_code=303)
    session.flash("Produk ditambahkan ke keranjang.", "success")
    return RedirectResponse("/keranjang", status_code=303)


@router.post("/keranjang/ubah")
async def update_line(
    request: Request,
    session: Shopper,
    product_id: Annotated[str, Form()],
    variant_id: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "1",
) -> Response:
    """Set a line's quantity; 0 (or the remove button) takes the line out."""
    amount = 0 if "hapus" in (await request.form()) else _quantity(quantity)
    if amount is None:
        session.flash(f"Jumlah harus antara 0 dan {MAX_QUANTITY}.", "error")
        return RedirectResponse("/keranjang", status_code=303)
    variant = variant_id or None

    def change(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = [line for line in items if not same_line(line, product_id, variant)]
        if amount:
            return [line if not same_line(line, product_id, variant) else line | {"quantity": amount} for line in items]
        return kept

    await change_cart(backend(request), session, change)
    session.flash("Produk dihapus dari keranjang." if not amount else "Jumlah diperbarui.", "success")
    return RedirectResponse("/keranjang", status_code=303)
