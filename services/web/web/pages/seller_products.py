"""Seller centre, products: list, create (with a photo from the phone's camera), edit, variants,
stock, photos, deactivate. Every action is a plain form post followed by a redirect, so it all
works with JavaScript off; each result is said in a flash message on the next page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from beli_contracts.reference import CATEGORIES
from web.backend import Backend, BackendError
from web.deps import backend
from web.pages.seller import SellerSession, need_profile
from web.render import page
from web.sessions import Session, current_session
from web.staff_forms import FormProblem, checked, low_stock, product_body, text, variant_body, whole_number

router = APIRouter(prefix="/penjual/produk")
MAX_PHOTO_BYTES = 2 * 1024 * 1024


def _fatal(error: BackendError) -> bool:
    """Errors a page cannot explain next to a field: the app-wide handler shows them."""
    return error.status in (0, 401) or error.status >= 500


async def _products(api: Backend, session: Session, seller_id: str) -> list[dict[str, Any]]:
    return await api.get(session, "catalog", f"/sellers/{seller_id}/products", limit=500)


@router.get("")
async def listing(request: Request, session: SellerSession) -> Response:
    seller_id = need_profile(session)
    if isinstance(seller_id, Response):
        return seller_id
    products = await _products(backend(request), session, seller_id)
    low = {w["product_id"] for w in low_stock(products)}
    return page(request, "seller/products.html", title="Produk saya", products=products, low=low)


@router.get("/baru")
async def new_form(request: Request, session: SellerSession) -> Response:
    seller_id = need_profile(session)
    if isinstance(seller_id, Response):
        return seller_id
    return _product_form(request, {"category": "", "stock": "0"}, {})


@router.post("/baru")
async def create(request: Request, session: SellerSession) -> Response:
    seller_id = need_profile(session)
    if isinstance(seller_id, Response):
        return seller_id
    form = await request.form()
    values = {name: text(form, name) for name in form if name not in ("csrf_token", "photo")}
    api = backend(request)
    try:
        product = await api.call(session, "POST", "catalog", "/products", json=product_body(form, seller_id))
    except FormProblem as problem:
        return _product_form(request, values, {problem.field: problem.message}, status=400)
    except BackendError as error:
        if _fatal(error):
            raise
        errors = _form_errors(error)
        return _product_form(request, values, errors, None if errors else error.message, status=400)
    flash = current_session(request).flash
    photo = form.get("photo")
    if isinstance(photo, UploadFile) and photo.filename:
        upload_problem = await _upload(api, session, product["id"], photo)
        if upload_problem:
            flash(f"Produk tersimpan, tetapi fotonya belum: {upload_problem}", "error")
            return RedirectResponse(f"/penjual/produk/{product['id']}", status_code=303)
    flash(f"Produk “{product['name']}” tersimpan.", "success")
    return RedirectResponse(f"/penjual/produk/{product['id']}", status_code=303)


def _form_errors(error: BackendError) -> dict[str, str]:
    """The catalog names `variants.0.price`; the form's field is `variant_price`."""
    errors: dict[str, str] = {}
    for problem in error.errors:
        path = str(problem.get("field", "")).split(".")
        name = f"variant_{path[-1]}" if path[0] == "variants" else path[-1]
        errors.setdefault(name, str(problem.get("message", "")))
    return errors


def _product_form(
    request: Request, values: dict[str, Any], errors: dict[str, str], error: str | None = None, status: int = 200
) -> Response:
    return page(
        request,
        "seller/product_new.html",
        status,
        title="Tambah produk",
        values=values,
        errors=errors,
        error=error,
        categories=list(CATEGORIES.items()),
    )


@router.get("/{product_id}")
async def edit(request: Request, product_id: str, session: SellerSession) -> Response:
    seller_id = need_profile(session)
    if isinstance(seller_id, Response):
        return seller_id
    products = await _products(backend(request), session, seller_id)
    product = next((p for p in products if p["id"] == product_id), None)
    if product is None:
        raise BackendError(404, "produk tidak ditemukan")
    return page(
        request,
        "seller/product_edit.html",
        title=f"Ubah {product['name']}",
        product=product,
        warnings=low_stock([product]),
        categories=list(CATEGORIES.items()),
    )


async def _act(request: Request, session: Session, product_id: str, method: str, path: str, body: Any, done: str) -> Response:
    """Send one change to the catalog and come back to the product's page with what happened."""
    back = RedirectResponse(f"/penjual/produk/{product_id}", status_code=303)
    flash = current_session(request).flash
    try:
        await backend(request).call(session, method, "catalog", path, json=body)
    except BackendError as error:
        if _fatal(error):
            raise
        details = error.field_errors()
        flash(f"Belum tersimpan: {'; '.join(details.values()) if details else error.message}", "error")
        return back
    flash(done, "success")
    return back


async def _form_or_problem(request: Request, product_id: str, read: Any) -> tuple[Any, Response | None]:
    form = await request.form()
    try:
        return read(form), None
    except FormProblem as problem:
        current_session(request).flash(f"Belum tersimpan: {problem.message}", "error")
        return None, RedirectResponse(f"/penjual/produk/{product_id}", status_code=303)


@router.post("/{product_id}")
async def change(request: Request, product_id: str, session: SellerSession) -> Response:
    body, problem = await _form_or_problem(request, product_id, lambda form: product_body(form))
    if problem:
        return problem
    return await _act(request, session, product_id, "PATCH", f"/products/{product_id}", body, "Perubahan produk tersimpan.")


@router.post("/{product_id}/status")
async def activate(request: Request, product_id: str, session: SellerSession) -> Response:
    form = await request.form()
    active = checked(form, "active")
    done = "Produk diaktifkan kembali." if active else "Produk dinonaktifkan: tidak tampil dan tidak dapat dipesan."
    return await _act(request, session, product_id, "PATCH", f"/products/{product_id}", {"active": active}, done)


@router.post("/{product_id}/stok")
async def set_stock(request: Request, product_id: str, session: SellerSession) -> Response:
    stock, problem = await _form_or_problem(request, product_id, lambda form: whole_number(form, "stock", required=True, label="Stok"))
    if problem:
        return problem
    return await _act(
        request, session, product_id, "PUT", f"/products/{product_id}/stock", {"stock": stock}, f"Stok diubah menjadi {stock}."
    )


@router.post("/{product_id}/varian")
async def add_variant(request: Request, product_id: str, session: SellerSession) -> Response:
    body, problem = await _form_or_problem(request, product_id, variant_body)
    if problem:
        return problem
    return await _act(
        request, session, product_id, "POST", f"/products/{product_id}/variants", body, f"Varian “{body['name']}” ditambahkan."
    )


@router.post("/{product_id}/varian/{variant_id}")
async def change_variant(request: Request, product_id: str, variant_id: str, session: SellerSession) -> Response:
    def read(form: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"name": text(form, "name"), "price": whole_number(form, "price", required=True, label="Harga")}
        if "active" in form or "was_active" in form:
            body["active"] = checked(form, "active")
        return body

    body, problem = await _form_or_problem(request, product_id, read)
    if problem:
        return problem
    path = f"/products/{product_id}/variants/{variant_id}"
    return await _act(request, session, product_id, "PATCH", path, body, f"Varian “{body['name']}” tersimpan.")


@router.post("/{product_id}/varian/{variant_id}/stok")
async def set_variant_stock(request: Request, product_id: str, variant_id: str, session: SellerSession) -> Response:
    stock, problem = await _form_or_problem(request, product_id, lambda form: whole_number(form, "stock", required=True, label="Stok"))
    if problem:
        return problem
    path = f"/products/{product_id}/variants/{variant_id}/stock"
    return await _act(request, session, product_id, "PUT", path, {"stock": stock}, f"Stok varian diubah menjadi {stock}.")


@router.post("/{product_id}/foto")
async def upload_photo(request: Request, product_id: str, session: SellerSession) -> Response:
    form = await request.form()
    photo = form.get("photo")
    flash = current_session(request).flash
    if not isinstance(photo, UploadFile) or not photo.filename:
        flash("Pilih atau ambil foto terlebih dahulu.", "error")
    else:
        problem = await _upload(backend(request), session, product_id, photo)
        flash(f"Foto belum tersimpan: {problem}" if problem else "Foto ditambahkan.", "error" if problem else "success")
    return RedirectResponse(f"/penjual/produk/{product_id}", status_code=303)


@router.post("/{product_id}/foto/{photo_id}/hapus")
async def delete_photo(request: Request, product_id: str, photo_id: str, session: SellerSession) -> Response:
    return await _act(request, session, product_id, "DELETE", f"/products/{product_id}/photos/{photo_id}", None, "Foto dihapus.")


async def _upload(api: Backend, session: Session, product_id: str, photo: UploadFile) -> str | None:
    """Forward the photo to the catalog; the reason in words when it is refused."""
    data = await photo.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        return "ukurannya lebih dari 2 MB; kecilkan resolusi kamera atau pilih foto lain"
    try:
        await api.call(
            session,
            "POST",
            "catalog",
            f"/products/{product_id}/photos",
            files={"photo": (photo.filename or "foto.jpg", data, photo.content_type or "application/octet-stream")},
        )
    except BackendError as error:
        if _fatal(error):
            raise
        return error.message
    return None
