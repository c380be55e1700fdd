"""The storefront: home, search, product and seller shop pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from beli_contracts.reference import CATEGORIES, REGENCIES
from web.render import page

router = APIRouter()


@router.get("/")
async def home(request: Request) -> Response:
    return page(request, "shop/home.html", title="Beli NTT", categories=CATEGORIES, regencies=REGENCIES)
