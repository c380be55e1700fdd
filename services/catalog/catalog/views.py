"""Request and response bodies of the catalog API, and how stored documents are shown."""

from typing import Any

from pydantic import BaseModel, EmailStr, Field, field_validator

from beli_runtime.strict import StrictRequest as Strict
from catalog.documents import ProductDocument, SellerDocument
from catalog.domain import (
    CATEGORIES,
    MAX_PRICE,
    MAX_STOCK,
    MAX_VARIANTS,
    MAX_WEIGHT_GRAMS,
    REGENCIES,
)

PHONE = r"^\+?[0-9]{8,15}$"


def _known_regency(value: str | None) -> str | None:
    if value is not None and value not in REGENCIES:
        raise ValueError(f"kabupaten/kota {value!r} tidak dikenal; pilih salah satu dari: {', '.join(REGENCIES)}")
    return value


def _known_category(value: str | None) -> str | None:
    if value is not None and value not in CATEGORIES:
        raise ValueError(f"kategori {value!r} tidak dikenal; pilih salah satu dari: {', '.join(CATEGORIES)}")
    return value


# --- sellers ----------------------------------------------------------------------------------


class BankAccount(Strict):
    """Where payouts go. Checked for shape only; the bank confirms the holder at first payout."""

    bank: str = Field(min_length=2, max_length=60, description="Bank name, e.g. `Bank NTT`")
    account_number: str = Field(pattern=r"^[0-9]{6,20}$")
    account_holder: str = Field(min_length=2, max_length=120)


class SellerFields(Strict):
    owner_name: str | None = Field(default=None, min_length=2, max_length=120, description="Person who runs the business")
    nik: str | None = Field(default=None, pattern=r"^[0-9]{16}$", description="Owner's NIK (16 digits), optional")
    nib: str | None = Field(default=None, pattern=r"^[0-9]{13}$", description="Nomor Induk Berusaha (13 digits), optional")
    village: str | None = Field(default=None, max_length=120)
    ovop: bool = Field(default=False, description="The business is its village's OVOP (One Village One Product)")
    bank_account: BankAccount | None = None


class NewSeller(SellerFields):
    name: str = Field(min_length=2, max_length=120, description="Business name")
    regency: str = Field(description="One of the 22 kabupaten/kota of NTT, e.g. `Sumba Timur`")
    email: EmailStr
    phone: str = Field(pattern=PHONE, description="Digits, optionally starting with +")

    _regency = field_validator("regency")(_known_regency)


class SellerChanges(Strict):
    """Fields a seller may change; the regency is fixed (it scopes levy and reports)."""

    name: str | None = Field(default=None, min_length=2, max_length=120)
    owner_name: str | None = Field(default=None, min_length=2, max_length=120)
    nik: str | None = Field(default=None, pattern=r"^[0-9]{16}$")
    nib: str | None = Field(default=None, pattern=r"^[0-9]{13}$")
    village: str | None = Field(default=None, max_length=120)
    ovop: bool | None = None
    email: EmailStr | None = None
    phone: str | None = Field(default=None, pattern=PHONE)
    bank_account: BankAccount | None = None


class PublicSeller(BaseModel):
    """What anyone may see of a verified seller: no contact, identity or bank details."""

    id: str
    name: str
    regency: str
    village: str | None
    ovop: bool


class Seller(PublicSeller):
    """The seller's own account and operators: every detail, identity numbers masked."""

    owner_name: str | None
    email: str
    phone: str
    status: str = Field(description="`pending` until an admin verifies the seller, then `verified`")
    nik: str | None = Field(description="Masked: only the last 4 digits are shown")
    nib: str | None
    bank_account: dict[str, str] | None = Field(description="Account number masked to its last 4 digits")


def _mask(value: str | None) -> str | None:
    return None if value is None else "*" * (len(value) - 4) + value[-4:]


def public_seller_view(seller: SellerDocument) -> PublicSeller:
    return PublicSeller(id=seller.id, name=seller.name, regency=seller.regency, village=seller.village, ovop=seller.ovop)


def seller_view(seller: SellerDocument) -> Seller:
    bank = seller.bank_account
    return Seller(
        id=seller.id,
        name=seller.name,
        owner_name=seller.owner_name,
        regency=seller.regency,
        village=seller.village,
        ovop=seller.ovop,
        email=seller.email,
        phone=seller.phone,
        status=seller.status,
        nik=_mask(seller.nik),
        nib=seller.nib,
        bank_account=None if bank is None else bank | {"account_number": _mask(bank["account_number"]) or ""},
    )


# --- products ---------------------------------------------------------------------------------


class NewVariant(Strict):
    name: str = Field(min_length=1, max_length=60, description="What the shopper picks, e.g. `Merah, 2 x 1 m`")
    price: int = Field(gt=0, le=MAX_PRICE)
    stock: int = Field(ge=0, le=MAX_STOCK)


class VariantChanges(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=60)
    price: int | None = Field(default=None, gt=0, le=MAX_PRICE)
    active: bool | None = None


class StockUpdate(Strict):
    stock: int = Field(ge=0, le=MAX_STOCK, description="Units available to buy now (held units not included)")


class NewProduct(Strict):
    seller_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=2, max_length=120)
    description: str = Field(default="", max_length=5000)
    category: str = Field(description=f"One of: {', '.join(CATEGORIES)}")
    price: int | None = Field(
        default=None, gt=0, le=MAX_PRICE, description="Unit price in whole Rupiah; required unless the product is sold in variants"
    )
    stock: int = Field(default=0, ge=0, le=MAX_STOCK)
    weight_grams: int | None = Field(default=None, gt=0, le=MAX_WEIGHT_GRAMS, description="Shipping weight of one unit")
    ovop_village: str | None = Field(default=None, max_length=120, description="OVOP village of origin, if any")
    low_stock_threshold: int | None = Field(default=None, ge=0, le=MAX_STOCK, description="Alert when available units fall below")
    active: bool = True
    variants: list[NewVariant] = Field(default_factory=list, max_length=MAX_VARIANTS)

    _category = field_validator("category")(_known_category)


class ProductChanges(Strict):
    name: str | None = Field(default=None, min_length=2, max_length=120)
    description: str | None = Field(default=None, max_length=5000)
    category: str | None = None
    price: int | None = Field(default=None, gt=0, le=MAX_PRICE)
    weight_grams: int | None = Field(default=None, gt=0, le=MAX_WEIGHT_GRAMS)
    ovop_village: str | None = Field(default=None, max_length=120)
    low_stock_threshold: int | None = Field(default=None, ge=0, le=MAX_STOCK)
    active: bool | None = None

    _category = field_validator("category")(_known_category)


class Variant(BaseModel):
    id: str
    name: str
    price: int
    stock: int
    reserved: int
    sold: int
    active: bool


class Photo(BaseModel):
    id: str
    url: str
    content_type: str
    size: int


class Product(BaseModel):
    id: str
    seller_id: str
    seller_name: str
    regency: str
    name: str
    description: str
    category: str
    price: int = Field(description="Unit price; with variants the lowest active variant price")
    stock: int = Field(description="Units available to buy now")
    reserved: int = Field(description="Units held for orders awaiting payment")
    sold: int
    weight_grams: int | None
    ovop_village: str | None
    ovop: bool
    active: bool
    visible: bool = Field(description="Shown to shoppers: active and the seller is verified")
    low_stock_threshold: int | None
    variants: list[Variant]
    photos: list[Photo]
    created_at: Any


def product_view(product: ProductDocument) -> Product:
    photos = [Photo(id=p.id, url=f"/products/{product.id}/photos/{p.id}", content_type=p.content_type, size=p.size) for p in product.photos]
    variants = [
        Variant(id=v.id, name=v.name, price=v.price, stock=v.stock, reserved=v.reserved, sold=v.sold, active=v.active)
        for v in product.variants
    ]
    return Product(
        id=product.id,
        seller_id=product.seller_id,
        seller_name=product.seller.name,
        regency=product.regency,
        name=product.name,
        description=product.description,
        category=product.category,
        price=product.price,
        stock=product.stock,
        reserved=product.reserved,
        sold=product.sold,
        weight_grams=product.weight_grams,
        ovop_village=product.ovop_village,
        ovop=product.ovop,
        active=product.active,
        visible=product.visible,
        low_stock_threshold=product.low_stock_threshold,
        variants=variants,
        photos=photos,
        created_at=product.created_at,
    )
