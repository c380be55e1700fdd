"""The catalog's stored documents, as store.py reads and writes them (see beli_runtime.documents:
unnamed fields are kept, defaults are never written into a document that lacked them). Fields
are declared in the order the documents were always written, so a new document's keys keep
their order too."""

from datetime import datetime

from pydantic import Field

from beli_contracts.values import SellerContact
from beli_runtime.documents import Document


class SellerDocument(Document):
    id: str = Field(alias="_id")
    owner_name: str | None = None
    nik: str | None = None
    nib: str | None = None
    village: str | None = None
    ovop: bool = False
    bank_account: dict[str, str] | None = None
    name: str
    regency: str
    email: str
    phone: str
    account_id: str | None = None  # the seller account that owns the profile (older profiles: none)
    email_verified: bool = False
    phone_verified: bool = False
    status: str = "pending"  # `verified` once an admin checked it
    created_at: datetime | None = None
    verified_at: datetime | None = None

    def contact(self) -> SellerContact:
        """The copy of the seller's contact every product carries."""
        return SellerContact(
            seller_id=self.id,
            name=self.name,
            email=self.email,
            phone=self.phone,
            regency=self.regency,
            email_verified=self.email_verified,
            phone_verified=self.phone_verified,
        )


class VariantDocument(Document):
    id: str
    name: str
    price: int
    stock: int
    reserved: int = 0
    sold: int = 0
    active: bool = True
    low_stock_alerted: bool = False


class PhotoDocument(Document):
    id: str  # the GridFS file's id
    content_type: str
    size: int
    uploaded_at: datetime | None = None


class ProductDocument(Document):
    """A product; one sold in variants keeps its units in them, and its own price (the lowest
    active variant's), stock, reserved and sold are derived from them (store.refresh_derived)."""

    id: str = Field(alias="_id")
    name: str
    description: str = ""
    category: str
    price: int
    stock: int
    weight_grams: int | None = None
    ovop_village: str | None = None
    low_stock_threshold: int | None = None
    active: bool = True
    seller_id: str
    seller: SellerContact
    seller_status: str = "pending"
    regency: str
    ovop: bool = False
    reserved: int = 0
    sold: int = 0
    low_stock_alerted: bool = False
    photos: list[PhotoDocument] = []
    variants: list[VariantDocument] = []
    created_at: datetime
    updated_at: datetime | None = None
    visible: bool = False
    # Left out of search results (search.py projects them away).
    name_terms: list[str] = []
    search_terms: list[str] = []
    sold_before_variants: int = 0  # units sold before the product was split into variants

    def variant(self, variant_id: str) -> VariantDocument | None:
        return next((v for v in self.variants if v.id == variant_id), None)


class ReservationLine(Document):
    product_id: str
    variant_id: str | None = None
    quantity: int


class ReservationDocument(Document):
    """Units held for one order (`_id` is the order id): held → committed, released or lapsed."""

    id: str = Field(alias="_id")
    status: str
    holder: str | None = None
    outlet_id: str | None = None  # a sale at an outlet's till holds the outlet's shelf units
    lines: list[ReservationLine] = []
    # units.lines_digest(lines): a paid order's lines are checked against it (absent before it existed).
    lines_digest: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    settled_at: datetime | None = None
    release_reason: str | None = None
    recommitted: bool = False


class ShelfLevel(Document):
    """Units of one product (or variant) on one outlet's shelf."""

    id: str = Field(alias="_id")
    stock: int
    product_name: str
    seller_id: str
    updated_at: datetime | None = None
    outlet_id: str
    product_id: str
    variant_id: str | None = None
    reserved: int = 0
    sold: int = 0


class OutletDocument(Document):
    id: str = Field(alias="_id")
    name: str
    regency: str
    address: str
    opening_hours: str
    phone: str
    active: bool = True
    revision: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


class AccountDocument(Document):
    """A sign-in account (shopper, seller or staff). Tokens are issued only once its e-mail is
    verified; a pending sign-up nobody proved may be replaced by a newer one."""

    id: str = Field(alias="_id")
    email: str  # lower case, unique
    seller_id: str | None = None  # the seller profile of a seller account, once created
    created_at: datetime | None = None
    email_verified_at: datetime | None = None
    phone_verified_at: datetime | None = None
    role: str
    name: str
    phone: str
    password_hash: str
    opd_id: str | None = None  # programme staff of one OPD
    outlet_id: str | None = None  # staff of one NTT Mart outlet
