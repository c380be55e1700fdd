"""The shelf of an outlet: sellers (or the operator) consign units of their products to it; its
staff see what is on it. Staff of another outlet are told it does not exist (404)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from beli_runtime.auth import Principal, Role, current_principal
from beli_runtime.http import ApiError
from beli_runtime.mongo import Session
from beli_runtime.strict import StrictRequest as Strict
from catalog import access
from catalog.documents import ProductDocument, ShelfLevel
from catalog.domain import MAX_STOCK
from catalog.listings import Write
from catalog.outlets.store import OutletStore
from catalog.store import CatalogStore

NOT_FOUND = "outlet {} tidak ditemukan"


class ShelfStock(Strict):
    stock: int = Field(ge=0, le=MAX_STOCK, description="Units on the outlet's shelf, available to sell now (held units not included)")
    variant_id: str | None = Field(default=None, min_length=1, max_length=64, description="Required for products sold in variants")


class ShelfLine(BaseModel):
    outlet_id: str
    product_id: str
    variant_id: str | None
    product_name: str
    variant_name: str | None = Field(default=None, description="The variant's name, for the till (None without a variant)")
    seller_id: str
    unit_price: int | None = Field(description="The product's (or variant's) current price; None if it is gone")
    stock: int
    reserved: int
    sold: int


async def shelf_reader(request: Request, principal: Annotated[Principal, Depends(current_principal)], outlet_id: str = Path()) -> Principal:
    """The outlet's own staff, the operator, and sellers (who see only their own products)."""
    if principal.role is Role.OUTLET and principal.outlet_id != outlet_id:
        raise ApiError(404, NOT_FOUND.format(outlet_id))
    if principal.role not in (Role.OUTLET, Role.ADMIN, Role.SELLER):
        raise ApiError(403, "hanya staf outlet ini, penjual atau operator")
    return principal


def build_router(outlets: OutletStore, catalog: CatalogStore, write: Write) -> APIRouter:
    """`write` runs a transaction."""
    router = APIRouter(tags=["outlets"])

    @router.get("/outlets/{outlet_id}/stock", response_model=list[ShelfLine], responses={404: {"description": "No such outlet"}})
    async def shelf(outlet_id: str, principal: Annotated[Principal, Depends(shelf_reader)]) -> list[ShelfLine]:
        """What is on the outlet's shelf; a seller sees only its own products."""
        if await outlets.get(outlet_id) is None:
            raise ApiError(404, NOT_FOUND.format(outlet_id))
        seller_id = (principal.seller_id or "-") if principal.role is Role.SELLER else None
        levels = await catalog.outlet_stock.listing(outlet_id, seller_id)
        found = await catalog.products.find({"_id": {"$in": [level.product_id for level in levels]}}).to_list()
        products = {product.id: product for product in map(ProductDocument.from_document, found)}
        return [shelf_line(level, products.get(level.product_id)) for level in levels]

    @router.put(
        "/outlets/{outlet_id}/stock/{product_id}",
        response_model=ShelfLine,
        responses={404: {"description": "No such open outlet, product or variant"}},
    )
    async def consign(
        outlet_id: str, product_id: str, body: ShelfStock, _: Annotated[Principal, Depends(access.product_owner)]
    ) -> ShelfLine:
        """The product's seller (or the operator) sets how many units are on the outlet's shelf.
        These units are the outlet's alone: online stock is not touched."""
        outlet = await outlets.get(outlet_id)
        if outlet is None or not outlet.active:
            raise ApiError(404, NOT_FOUND.format(outlet_id))
        product = await catalog.product(product_id)
        if product is None:
            raise ApiError(404, f"produk {product_id} tidak ditemukan")
        variants = {v.id for v in product.variants}
        if (body.variant_id is None) != (not variants) or (body.variant_id is not None and body.variant_id not in variants):
            raise ApiError(422, "pilih salah satu varian produk ini" if variants else "produk ini tidak punya varian", field="variant_id")

        async def work(session: Session) -> ShelfLevel:
            return await catalog.outlet_stock.set(session, outlet_id, product, body.variant_id, body.stock)

        return shelf_line(await write(work), product)

    return router


def shelf_line(level: ShelfLevel, product: ProductDocument | None) -> ShelfLine:
    price = variant_name = None
    if product is not None:
        unit = product.variant(level.variant_id) if level.variant_id else None
        price = (unit or product).price
        variant_name = unit.name if unit else None
    fields = ("outlet_id", "product_id", "variant_id", "product_name", "seller_id", "stock", "reserved", "sold")
    return ShelfLine(**{name: getattr(level, name) for name in fields}, unit_price=price, variant_name=variant_name)
