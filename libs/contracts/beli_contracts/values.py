"""Value types shared by several events. Money is integer Rupiah everywhere."""

from pydantic import BaseModel, ConfigDict, Field

Rupiah = int


class Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(Value):
    name: str
    email: str
    phone: str
    account_id: str | None = None  # the shopper's account, when the order was placed signed in
    # Whether the account proved it receives mail / texts there (a code): nothing is sent to an
    # unverified address. Old events without these fields are treated as unverified.
    email_verified: bool = False
    phone_verified: bool = False


class OrderItem(Value):
    product_id: str
    quantity: int = Field(gt=0)
    # The chosen variant (e.g. size/colour of a tenun) for products sold in variants.
    variant_id: str | None = None


class SellerContact(Value):
    seller_id: str
    name: str
    email: str
    phone: str
    regency: str
    # True only when the address is the seller account's own verified one.
    email_verified: bool = False
    phone_verified: bool = False


class PricedLine(Value):
    """One order line priced by the catalog at reservation time: what the shopper pays for."""

    product_id: str
    product_name: str
    category: str
    seller: SellerContact
    quantity: int = Field(gt=0)
    unit_price: Rupiah = Field(ge=0)
    variant_id: str | None = None
    # Added later (optional, so older events still parse): the OVOP village the product comes
    # from, for the programme's "share bought from OVOP villages".
    ovop_village: str | None = None

    @property
    def subtotal(self) -> Rupiah:
        return self.unit_price * self.quantity


class SettledLine(PricedLine):
    """A priced line after payment: its PAD levy and what the seller is owed."""

    levy: Rupiah = Field(ge=0)
    seller_payable: Rupiah = Field(ge=0)
    levy_rule_id: str
    levy_rule_version: int


class PickupOutlet(Value):
    """The NTT Mart outlet a shopper collects a parcel at, as orders knew it when it wrote the
    event (its copy of catalog's `catalog.outlet_changed`)."""

    outlet_id: str
    name: str
    regency: str
    address: str = ""
    opening_hours: str = ""
    phone: str = ""


class ReturnedLine(Value):
    """Units of one order line (a product, or one variant of it) going back to the seller."""

    product_id: str
    quantity: int = Field(gt=0)
    variant_id: str | None = None
