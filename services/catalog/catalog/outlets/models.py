"""What the outlets API takes and answers."""

from pydantic import BaseModel, Field, field_validator

from beli_contracts.reference import REGENCIES
from beli_runtime.strict import StrictRequest as Strict

PHONE = r"^\+?[0-9]{8,15}$"
OUTLET_ID = r"^ntt-mart-[a-z0-9-]{2,60}$"
DEFAULT_HOURS = "Senin–Sabtu 08.00–20.00"


class NewOutlet(Strict):
    regency: str = Field(description="One of the 22 kabupaten/kota of NTT")
    outlet_id: str | None = Field(
        default=None, pattern=OUTLET_ID, description="Default `ntt-mart-<regency>`; give another for a second outlet in a regency"
    )
    name: str | None = Field(default=None, min_length=2, max_length=120, description="Default `NTT Mart <regency>`")
    address: str = Field(min_length=2, max_length=300)
    opening_hours: str = Field(default=DEFAULT_HOURS, min_length=2, max_length=120)
    phone: str = Field(pattern=PHONE)
    active: bool = True

    @field_validator("regency")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in REGENCIES:
            raise ValueError(f"kabupaten/kota {value!r} tidak dikenal; pilih salah satu dari: {', '.join(REGENCIES)}")
        return value


class OutletChanges(Strict):
    """What the operator may change; an outlet's id and regency are fixed (sales are booked by them)."""

    name: str | None = Field(default=None, min_length=2, max_length=120)
    address: str | None = Field(default=None, min_length=2, max_length=300)
    opening_hours: str | None = Field(default=None, min_length=2, max_length=120)
    phone: str | None = Field(default=None, pattern=PHONE)
    active: bool | None = Field(default=None, description="false closes the outlet: no new sales, staff cannot sell")


class Outlet(BaseModel):
    id: str
    name: str
    regency: str
    address: str
    opening_hours: str
    phone: str
    active: bool
