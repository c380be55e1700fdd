"""The storefront: home, search with filters and facets, product and seller shop pages."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from beli_contracts.reference import CATEGORIES, REGENCIES
from web import photos
from web.backend import BackendError
from web.deps import backend
from web.pages.asn import progress_card
from web.render import page
from web.sessions import current_session

router = APIRouter()
SORTS = {"relevance": "Paling sesuai", "newest": "Terbaru", "price_asc": "Harga terendah", "price_desc": "Harga tertinggi"}
SEARCH_FIELDS = ("q", "regency", "category", "ovop", "min_price", "max_price", "in_stock", "sort")
PAGE_SIZE = 20
_villages: dict[str, Any] = {"at": 0.0, "rows": []}
VILLAGES_TTL = 60.0  # the OVOP list changes when sellers add products: a minute old is fine


async def ovop_villages(request: Request) -> list[dict[str, Any]]:
    if time.monotonic() - _villages["at"] > VILLAGES_TTL:
        try:
            _villages["rows"] = await backend(request).get(None, "catalog", "/ovop-villages")
            _villages["at"] = time.monotonic()
        except BackendError:
            return _villages["rows"]  # the home page still works without them
    return _villages["rows"]


@router.get("/")
async def home(request: Request) -> Response:
    villages, newest = await asyncio.gather(
        ovop_villages(request), backend(request).get(None, "catalog", "/products", limit=8, facets="false", sort="newest")
    )
    session = current_session(request)
    # A signed-in ASN sees this month's commitment first (no card for other shoppers).
    progress = await progress_card(backend(request), session) if session.role == "shopper" else None
    return page(
        request,
        "shop/home.html",
        title="Beli NTT",
        categories=CATEGORIES,
        regencies=REGENCIES,
        villages=villages[:12],
        products=newest["items"],
        progress=progress,
        compact=True,
    )


def search_params(request: Request) -> dict[str, str]:
    """The filters of the search URL that the catalog understands (empty ones dropped)."""
    chosen = {key: request.query_params.get(key, "").strip() for key in SEARCH_FIELDS}
    return {key: value for key, value in chosen.items() if value}


def link(params: dict[str, str], **changes: str | None) -> str:
    merged = {key: value for key, value in (params | changes).items() if value}
    return "/cari" + (f"?{urlencode(merged)}" if merged else "")


@router.get("/cari")
async def search(request: Request) -> Response:
    params = search_params(request)
    cursor = request.query_params.get("cursor")
    query = dict(params) | {"limit": PAGE_SIZE, "facets": "true" if not cursor else "false", "cursor": cursor}
    error = None
    try:
        result = await backend(request).get(None, "catalog", "/products", **query)
    except BackendError as failed:
        if failed.status not in (400, 422):
            raise
        error, result = failed.message, {"items": [], "next_cursor": None, "facets": None}
    next_url = f"{link(params)}{'&' if params else '?'}cursor={result['next_cursor']}" if result["next_cursor"] else None
    return page(
        request,
        "shop/search.html",
        title=f"Cari: {params['q']}" if params.get("q") else "Cari produk",
        params=params,
        query_text=params.get("q", ""),
        items=result["items"],
        facets=result.get("facets"),
        next_url=next_url,
        first_url=link(params) if cursor else None,
        link=link,
        sorts=SORTS,
        categories=CATEGORIES,
        regency_options=[(regency, regency) for regency in REGENCIES],
        error=error,
    )


@router.get("/produk/{product_id}")
async def product(request: Request, product_id: str) -> Response:
    item = await backend(request).get(None, "catalog", f"/products/{product_id}")
    if not item.get("visible"):
        raise BackendError(404, "produk tidak ditemukan")
    seller = await backend(request).get(None, "catalog", f"/sellers/{item['seller_id']}")
    variants = [variant for variant in item["variants"] if variant["active"]]
    session = current_session(request)
    return page(
        request,
        "shop/product.html",
        title=item["name"],
        product=item,
        seller=seller,
        variants=variants,
        shopper=session.role in (None, "shopper"),
    )


@router.get("/toko/{seller_id}")
async def seller_shop(request: Request, seller_id: str) -> Response:
    # The catalog shows the public a verified seller only (a pending one is a 404 from it).
    seller = await backend(request).get(None, "catalog", f"/sellers/{seller_id}")
    cursor = request.query_params.get("cursor")
    result = await backend(request).get(None, "catalog", "/products", seller_id=seller_id, limit=PAGE_SIZE, facets="false", cursor=cursor)
    next_url = f"/toko/{seller_id}?cursor={result['next_cursor']}" if result["next_cursor"] else None
    first_url = f"/toko/{seller_id}" if cursor else None
    return page(
        request, "shop/seller.html", title=seller["name"], seller=seller, items=result["items"], next_url=next_url, first_url=first_url
    )


@router.get("/foto/{product_id}/{photo_id}")
async def photo(request: Request, product_id: str, photo_id: str, ukuran: str = "besar") -> Response:
    """Product photos through this site (the catalog need not be reachable from browsers),
    resized (`?ukuran=kecil` for lists, `besar` for the product page), WebP when accepted, and
    cached for a week by browsers: a photo id never changes content."""
    size = ukuran if ukuran in photos.SIZES else "besar"
    webp = "image/webp" in request.headers.get("accept", "")
    etag = f'"{photo_id}-{size}-{"webp" if webp else "jpeg"}"'
    headers = {"Cache-Control": "public, max-age=604800, immutable", "ETag": etag, "Vary": "Accept"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    answer = await backend(request).call(None, "GET", "catalog", f"/products/{product_id}/photos/{photo_id}", raw=True)
    made = await asyncio.to_thread(photos.resized, photo_id, answer.content, size, webp)
    if made is None:  # not readable by Pillow: send it as stored
        return Response(answer.content, media_type=answer.headers.get("content-type", "application/octet-stream"), headers=headers)
    return Response(made[0], media_type=made[1], headers=headers)
