"""The till of an NTT Mart outlet (role `outlet`): find products on the outlet's shelf (search by
name, or type/scan a product or variant id), build the sale, name the buyer (e-mail, phone or
an ASN's NIP) and ring it up as QRIS or cash. The cart lives in the page (web/till_cart.py); the
orders service prices and reserves the sale, payments takes the money (till_sales.py)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from web import till_cart
from web.backend import BackendError
from web.deps import backend
from web.pages.pickup import outlet_of
from web.render import page
from web.security import require_user
from web.sessions import Session

router = APIRouter(prefix="/ntt-mart")
OutletStaff = Annotated[Session, Depends(require_user("outlet"))]
Lines = Annotated[list[str], Query(alias="b")]
METHODS = (("qris", "QRIS (pindai dengan aplikasi pembayaran)"), ("cash", "Tunai"))


async def shelf_of(request: Request, session: Session) -> list[dict[str, Any]]:
    return await backend(request).get(session, "catalog", f"/outlets/{outlet_of(session)}/stock")


@router.get("/kasir")
async def till(
    request: Request,
    session: OutletStaff,
    b: Lines = [],  # noqa: B006 - FastAPI copies query defaults
    q: str = "",
    pindai: str = "",
    tambah: str = "",
    ubah: str = "",
    jumlah: str = "1",
) -> Response:
    """The till. An action (scan, add, change) is applied and answered with a redirect to the
    cart's own address, so a reload never adds twice."""
    shelf = await shelf_of(request, session)
    cart = till_cart.parse_cart(b)
    for problem in cart.problems:
        session.flash(problem, "error")
    if pindai or tambah or ubah:
        q = apply(session, cart, till_cart.shelf_index(shelf), pindai=pindai, tambah=tambah, ubah=ubah, jumlah=jumlah) or q
        return RedirectResponse(f"/ntt-mart/kasir?{cart.query(q=q[:80])}", status_code=303)
    return till_page(request, cart, shelf, q=q[:80])


def apply(
    session: Session, cart: till_cart.Cart, shelf: dict[str, dict[str, Any]], *, pindai: str, tambah: str, ubah: str, jumlah: str
) -> str:
    """One change of the cart, said in a message. Returns the search text to show next, if any."""
    quantity = till_cart.quantity_of(jumlah)
    if quantity is None or (quantity == 0 and not ubah):
        session.flash("Jumlah harus angka 1–1000.", "error")
        return pindai.strip()[:80]
    if ubah:
        if ubah in cart.lines and quantity == 0:
            del cart.lines[ubah]
            session.flash("Baris dihapus dari keranjang.", "success")
        elif ubah in cart.lines:
            before = cart.lines.pop(ubah)
            refused = till_cart.add(cart, shelf, ubah, quantity)
            if refused:
                cart.lines[ubah] = before
                session.flash(refused, "error")
        return ""
    key, refused = (tambah, None) if tambah else till_cart.scanned(shelf, pindai)
    if key is not None:
        refused = till_cart.add(cart, shelf, key, quantity)
    if refused:
        session.flash(refused, "error")
        return pindai.strip()[:80]
    session.flash(f"{till_cart.label(shelf[key])} × {quantity} masuk keranjang.", "success")  # type: ignore[index]
    return ""


def till_page(
    request: Request,
    cart: till_cart.Cart,
    shelf: list[dict[str, Any]],
    *,
    q: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    rows, total = till_cart.priced(cart, till_cart.shelf_index(shelf))
    return page(
        request,
        "outlet/till.html",
        status_code=status_code,
        title="Kasir NTT Mart",
        cart=cart,
        rows=rows,
        total=total,
        q=q,
        results=till_cart.search(shelf, q),
        on_shelf=len(shelf),
        methods=METHODS,
        values=values or {"cara": "qris"},
        errors=errors or {},
        error=error,
        sale_key=uuid.uuid4().hex,  # one sale per rendered form: a double tap replays it
    )


@router.post("/kasir/jual")
async def ring_up(
    request: Request,
    session: OutletStaff,
    b: Annotated[list[str], Form()] = [],  # noqa: B006
    pembeli: Annotated[str, Form()] = "",
    cara: Annotated[str, Form()] = "qris",
    kunci: Annotated[str, Form()] = "",
) -> Response:
    """The sale goes to the orders service; then the sale's page shows the QR or takes the cash."""
    # Lengths are cut here, not refused by FastAPI: a form never answers bare JSON.
    cart, pembeli, kunci = till_cart.parse_cart(b), pembeli[:200], kunci[:64]
    values = {"pembeli": pembeli, "cara": cara}
    buyer, buyer_error = till_cart.buyer_of(pembeli)
    errors = {"pembeli": buyer_error} if buyer_error else {}
    if cara not in dict(METHODS):
        errors["cara"] = "Pilih cara bayar: QRIS atau tunai."
    if not cart.lines:
        errors["keranjang"] = "Keranjang masih kosong: tambahkan produk dari rak."
    if errors or cart.problems:
        return till_page(request, cart, await shelf_of(request, session), values=values, errors=errors, status_code=422)
    body = {"items": cart.items(), "payment_method": cara, **({"buyer": buyer} if buyer else {})}
    key = kunci if kunci.isalnum() and 16 <= len(kunci) <= 64 else uuid.uuid4().hex
    try:
        created = await backend(request).call(
            session, "POST", "orders", f"/outlets/{outlet_of(session)}/sales", json=body, headers={"Idempotency-Key": key}
        )
    except BackendError as refused:
        if refused.status not in (404, 409, 422):
            raise
        fields = refused.field_errors()
        errors = {"pembeli": fields.get("buyer") or fields.get("nip") or fields.get("email") or fields.get("phone") or refused.message}
        if not any("buyer" in str(problem.get("field", "")) for problem in refused.errors):
            errors = {"keranjang": refused.message}
        return till_page(request, cart, await shelf_of(request, session), values=values, errors=errors, status_code=422)
    return RedirectResponse(f"/ntt-mart/kasir/penjualan/{created['id']}", status_code=303)
