"""Sellers' listings: products, their variants, prices and stock.

Every change is one transaction through `runtime.write`, and the events it causes
(ProductPriceChanged, StockChanged, StockLow) go into the outbox in that same transaction:
either the change and its events are both stored, or neither.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from beli_contracts.catalog import ProductPriceChanged, StockChanged, StockLow
from beli_contracts.envelope import EventPayload
from beli_runtime.auth import Principal
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Session
from beli_runtime.outbox import Outbox
from catalog import access
from catalog.documents import ProductDocument, VariantDocument
from catalog.domain import can_add_first_variant, check_variant_names
from catalog.store import CatalogStore, new_id, refresh_derived
from catalog.views import (
    NewProduct,
    NewVariant,
    Product,
    ProductChanges,
    StockUpdate,
    VariantChanges,
    product_view,
)

Write = Callable[[Callable[[Session], Awaitable[Any]]], Awaitable[Any]]
NOT_NULL = ("name", "description", "category", "price", "active")


class Listings:
    def __init__(self, store: CatalogStore, outbox: Outbox, write: Write) -> None:
        self.store = store
        self.outbox = outbox
        self.write = write

    async def create(self, body: NewProduct) -> ProductDocument:
        seller = await self.store.seller(body.seller_id)
        if seller is None:
            raise ApiError(422, f"penjual {body.seller_id} tidak ditemukan", field="seller_id")
        if not body.variants and body.price is None:
            raise ApiError(422, "harga wajib diisi untuk produk tanpa varian", field="price")
        check_variant_names([], [v.name for v in body.variants])
        now = utcnow()
        product = ProductDocument(
            id=new_id("prd"),
            **body.model_dump(exclude={"seller_id", "variants", "price"}),
            price=body.price or 0,  # with variants: replaced by the lowest variant price below
            seller_id=seller.id,
            seller=seller.contact(),
            seller_status=seller.status,
            regency=seller.regency,
            ovop=bool(body.ovop_village) or seller.ovop,
            reserved=0,
            sold=0,
            low_stock_alerted=False,
            photos=[],
            variants=[_new_variant(v) for v in body.variants],
            created_at=now,
            updated_at=now,
        )
        refresh_derived(product)

        async def work(session: Session) -> ProductDocument:
            await self.store.insert_product(session, product)
            await self._low_stock_everywhere(session, product)
            return product

        return await self.write(work)

    async def change(self, product_id: str, body: ProductChanges) -> ProductDocument:
        changes = body.model_dump(exclude_unset=True)
        for name in NOT_NULL:
            if name in changes and changes[name] is None:
                raise ApiError(422, f"{name} tidak boleh kosong", field=name)

        async def work(session: Session) -> ProductDocument:
            product = await self._product(session, product_id)
            events: list[EventPayload] = []
            if "price" in changes and changes["price"] != product.price:
                if product.variants:
                    raise ApiError(409, "produk ini dijual per varian: ubah harga pada variannya", field="price")
                events.append(
                    ProductPriceChanged(
                        product_id=product_id, seller_id=product.seller_id, old_price=product.price, new_price=changes["price"]
                    )
                )
            if "ovop_village" in changes:
                seller = await self.store.seller(product.seller_id, session)
                changes["ovop"] = bool(changes["ovop_village"]) or bool(seller and seller.ovop)
            for name, value in changes.items():
                setattr(product, name, value)
            await self.store.save_product(session, product)
            if "low_stock_threshold" in changes:
                await self._low_stock_everywhere(session, product, events)
            await self._emit(session, product_id, events)
            return product

        return await self.write(work)

    async def set_stock(self, product_id: str, body: StockUpdate) -> ProductDocument:
        async def work(session: Session) -> ProductDocument:
            product = await self._product(session, product_id)
            if product.variants:
                raise ApiError(409, "produk ini dijual per varian: atur stok pada variannya", field="stock")
            product.stock = body.stock
            await self.store.save_product(session, product)
            events: list[EventPayload] = [StockChanged(product_id=product_id, seller_id=product.seller_id, stock=body.stock)]
            await self._low_stock(session, product, None, events)
            await self._emit(session, product_id, events)
            return product

        return await self.write(work)

    async def add_variant(self, product_id: str, body: NewVariant) -> ProductDocument:
        async def work(session: Session) -> ProductDocument:
            product = await self._product(session, product_id)
            if not product.variants:
                if not can_add_first_variant(product.reserved):
                    raise ApiError(
                        409, "masih ada unit produk ini yang dipesan; tunggu pesanan selesai sebelum menambah varian", field="variants"
                    )
                # The product's own units are replaced by the variants' (the seller recounts them per variant).
                product.sold_before_variants = product.sold
            check_variant_names([v.name for v in product.variants], [body.name])
            variant = _new_variant(body)
            product.variants.append(variant)
            await self.store.save_product(session, product)
            events: list[EventPayload] = [
                StockChanged(product_id=product_id, seller_id=product.seller_id, variant_id=variant.id, stock=variant.stock)
            ]
            await self._low_stock(session, product, variant.id, events)
            await self._emit(session, product_id, events)
            return product

        return await self.write(work)

    async def change_variant(self, product_id: str, variant_id: str, body: VariantChanges) -> ProductDocument:
        changes = body.model_dump(exclude_unset=True)
        for name in ("name", "price", "active"):
            if name in changes and changes[name] is None:
                raise ApiError(422, f"{name} tidak boleh kosong", field=name)

        async def work(session: Session) -> ProductDocument:
            product = await self._product(session, product_id)
            variant = _variant(product, variant_id)
            events: list[EventPayload] = []
            if "name" in changes:
                check_variant_names([v.name for v in product.variants if v.id != variant_id], [changes["name"]])
            if "price" in changes and changes["price"] != variant.price:
                events.append(
                    ProductPriceChanged(
                        product_id=product_id,
                        seller_id=product.seller_id,
                        variant_id=variant_id,
                        old_price=variant.price,
                        new_price=changes["price"],
                    )
                )
            for name, value in changes.items():
                setattr(variant, name, value)
            await self.store.save_product(session, product)
            await self._emit(session, product_id, events)
            return product

        return await self.write(work)

    async def set_variant_stock(self, product_id: str, variant_id: str, body: StockUpdate) -> ProductDocument:
        async def work(session: Session) -> ProductDocument:
            product = await self._product(session, product_id)
            _variant(product, variant_id).stock = body.stock
            await self.store.save_product(session, product)
            events: list[EventPayload] = [
                StockChanged(product_id=product_id, seller_id=product.seller_id, variant_id=variant_id, stock=body.stock)
            ]
            await self._low_stock(session, product, variant_id, events)
            await self._emit(session, product_id, events)
            return product

        return await self.write(work)

    # --- helpers ----------------------------------------------------------------------------

    async def _product(self, session: Session, product_id: str) -> ProductDocument:
        product = await self.store.product(product_id, session)
        if product is None:
            raise ApiError(404, f"produk {product_id} tidak ditemukan")
        # Written back whole, with both lists, even where the stored document had none.
        product.variants, product.photos = product.variants, product.photos
        return product

    async def _low_stock(self, session: Session, product: ProductDocument, variant_id: str | None, events: list[EventPayload]) -> None:
        alert: StockLow | None = await self.store.check_low_stock(session, product, variant_id)
        if alert is not None:
            events.append(alert)

    async def _low_stock_everywhere(self, session: Session, product: ProductDocument, events: list[EventPayload] | None = None) -> None:
        """A new product or a new threshold: check every unit pool once (may already be low)."""
        own = events if events is not None else []
        pools: list[str | None] = [v.id for v in product.variants] or [None]
        for variant_id in pools:
            await self._low_stock(session, product, variant_id, own)
        if events is None:
            await self._emit(session, product.id, own)

    async def _emit(self, session: Session, product_id: str, events: list[EventPayload]) -> None:
        for event in events:
            await self.outbox.add(session, event, key=product_id)


def _new_variant(body: NewVariant) -> VariantDocument:
    return VariantDocument(
        id=new_id("var"), name=body.name, price=body.price, stock=body.stock, reserved=0, sold=0, active=True, low_stock_alerted=False
    )


def _variant(product: ProductDocument, variant_id: str) -> VariantDocument:
    variant = product.variant(variant_id)
    if variant is None:
        raise ApiError(404, f"varian {variant_id} tidak ada pada produk {product.id}")
    return variant


def build_router(listings: Listings) -> APIRouter:
    router = APIRouter(tags=["products"])
    store = listings.store
    owner = [Depends(access.product_owner)]

    @router.post("/products", status_code=201, response_model=Product)
    async def create_product(
        request: Request, body: NewProduct, principal: Annotated[Principal, Depends(access.current_principal)]
    ) -> Product:
        """A seller lists a product under its own profile (an admin may list for any seller)."""
        await access.may_manage_seller(request, principal, body.seller_id)
        return product_view(await listings.create(body))

    @router.get("/products/{product_id}", response_model=Product)
    async def get_product(product_id: str) -> Product:
        product = await store.visible_product(product_id)
        if product is None:  # unknown, inactive, or its seller is not verified: shoppers cannot tell which
            raise ApiError(404, f"produk {product_id} tidak ditemukan")
        return product_view(product)

    @router.patch("/products/{product_id}", response_model=Product, dependencies=owner)
    async def change_product(product_id: str, body: ProductChanges) -> Product:
        return product_view(await listings.change(product_id, body))

    @router.put("/products/{product_id}/stock", response_model=Product, dependencies=owner)
    async def set_stock(product_id: str, body: StockUpdate) -> Product:
        return product_view(await listings.set_stock(product_id, body))

    @router.post("/products/{product_id}/variants", status_code=201, response_model=Product, dependencies=owner)
    async def add_variant(product_id: str, body: NewVariant) -> Product:
        return product_view(await listings.add_variant(product_id, body))

    @router.patch("/products/{product_id}/variants/{variant_id}", response_model=Product, dependencies=owner)
    async def change_variant(product_id: str, variant_id: str, body: VariantChanges) -> Product:
        return product_view(await listings.change_variant(product_id, variant_id, body))

    @router.put("/products/{product_id}/variants/{variant_id}/stock", response_model=Product, dependencies=owner)
    async def set_variant_stock(product_id: str, variant_id: str, body: StockUpdate) -> Product:
        return product_view(await listings.set_variant_stock(product_id, variant_id, body))

    @router.get("/sellers/{seller_id}/products", response_model=list[Product], dependencies=[Depends(access.seller_self)])
    async def seller_products(seller_id: str, limit: int = Query(default=100, ge=1, le=500)) -> list[Product]:
        """The seller's own listings, hidden ones included (the seller's dashboard)."""
        return [product_view(doc) for doc in await store.seller_products(seller_id, limit)]

    return router
