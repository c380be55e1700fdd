"""Catalog HTTP routes: sellers and products."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from beli_runtime.http import ApiError

from catalog.domain import CATEGORIES, MAX_PRICE, MAX_STOCK, REGENCIES
from catalog.store import CatalogStore

MAX_PAGE = 100


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NewSeller(Strict):
    name: str = Field(min_length=2, max_length=120, description="Business name")
    regency: str = Field(description="One of the 22 kabupaten/kota of NTT, e.g. `Sumba Timur`")
    village: str | None = Field(default=None, max_length=120)
    email: EmailStr
    phone: str = Field(pattern=r"^\+?[0-9]{8,15}$", description="Digits, optionally starting with +")

    @field_validator("regency")
    @classmethod
    def known_regency(cls, value: str) -> str:
        if value not in REGENCIES:
            raise ValueError(f"unknown regency {value!r}; expected one of: {', '.join(REGENCIES)}")
        return value


class NewProduct(Strict):
    seller_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=2, max_length=120)
    description: str = Field(default="", max_length=5000)
    category: str = Field(description=f"One of: {', '.join(CATEGORIES)}")
    price: int = Field(gt=0, le=MAX_PRICE, description="Unit price in whole Rupiah")
    stock: int = Field(ge=0, le=MAX_STOCK)
    ovop_village: str | None = Field(default=None, max_length=120, description="OVOP village of origin, if any")

    @field_validator("category")
    @classmethod
    def known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; expected one of: {', '.join(CATEGORIES)}")
        return value


class Seller(BaseModel):
    id: str
    name: str
    regency: str
    village: str | None
    email: str
    phone: str


class Product(BaseModel):
    id: str
    seller_id: str
    seller_name: str
    regency: str
    name: str
    description: str
    category: str
    price: int
    stock: int = Field(description="Units available to buy now")
    reserved: int = Field(description="Units held for orders awaiting payment")
    sold: int
    ovop_village: str | None


class ProductPage(BaseModel):
    items: list[Product]
    next_cursor: str | None


def seller_view(doc: dict[str, Any]) -> Seller:
    return Seller(id=doc["_id"], **{k: doc.get(k) for k in ("name", "regency", "village", "email", "phone")})


def product_view(doc: dict[str, Any]) -> Product:
    return Product(id=doc["_id"], seller_id=doc["seller_id"], seller_name=doc["seller"]["name"], regency=doc["regency"],
                   name=doc["name"], description=doc.get("description", ""), category=doc["category"], price=doc["price"],
                   stock=doc["stock"], reserved=doc["reserved"], sold=doc["sold"], ovop_village=doc.get("ovop_village"))


def build_router(store: CatalogStore) -> APIRouter:
    router = APIRouter()

    @router.post("/sellers", status_code=201, response_model=Seller, tags=["sellers"])
    async def create_seller(body: NewSeller) -> Seller:
        return seller_view(await store.add_seller(body.model_dump()))

    @router.get("/sellers/{seller_id}", response_model=Seller, tags=["sellers"])
    async def get_seller(seller_id: str) -> Seller:
        seller = await store.seller(seller_id)
        if seller is None:
            raise ApiError(404, f"seller {seller_id} not found")
        return seller_view(seller)

    @router.post("/products", status_code=201, response_model=Product, tags=["products"])
    async def create_product(body: NewProduct) -> Product:
        seller = await store.seller(body.seller_id)
        if seller is None:
            raise ApiError(422, f"seller {body.seller_id} does not exist", field="seller_id")
        return product_view(await store.add_product(seller, body.model_dump(exclude={"seller_id"})))

    @router.get("/products/{product_id}", response_model=Product, tags=["products"])
    async def get_product(product_id: str) -> Product:
        product = await store.product(product_id)
        if product is None:
            raise ApiError(404, f"product {product_id} not found")
        return product_view(product)

    @router.get("/products", response_model=ProductPage, tags=["products"])
    async def list_products(
        regency: Annotated[str | None, Query(description="Filter by regency")] = None,
        category: Annotated[str | None, Query(description="Filter by category")] = None,
        q: Annotated[str | None, Query(max_length=100, description="Words in the name or description")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
        cursor: Annotated[str | None, Query(max_length=64, description="`next_cursor` of the previous page")] = None,
    ) -> ProductPage:
        if regency is not None and regency not in REGENCIES:
            raise ApiError(422, f"unknown regency {regency!r}", field="regency")
        if category is not None and category not in CATEGORIES:
            raise ApiError(422, f"unknown category {category!r}", field="category")
        rows = await store.search(regency=regency, category=category, text=q, limit=limit + 1, after=cursor)
        page = rows[:limit]
        return ProductPage(items=[product_view(row) for row in page],
                           next_cursor=page[-1]["_id"] if len(rows) > limit else None)

    @router.get("/categories", tags=["products"])
    async def list_categories() -> dict[str, str]:
        return CATEGORIES

    @router.get("/regencies", tags=["sellers"])
    async def list_regencies() -> list[str]:
        return list(REGENCIES)

    return router
