"""Orders' own copy of the NTT Mart outlets, kept from catalog's `catalog.outlet_changed`
events (orders never reads the catalog's database): checkout validates a pick-up outlet with it
and shows the outlet's name, address and opening hours."""

from typing import Any

from beli_contracts import Envelope
from beli_contracts.outlets import OutletChanged
from beli_runtime.errors import Refused
from beli_runtime.mongo import Database, Session

FIELDS = ("outlet_id", "name", "regency", "address", "opening_hours", "phone")


class OutletDirectory:
    def __init__(self, db: Database) -> None:
        self.outlets = db["outlets"]

    async def on_outlet_changed(self, envelope: Envelope, event: OutletChanged, session: Session) -> None:
        """Replace our copy, unless the one we hold is newer (events of one outlet keep their
        order on its partition, but a replay from an older offset must not undo a change)."""
        held = await self.outlets.find_one({"_id": event.outlet_id}, {"revision": 1}, session=session)
        if held is not None and held["revision"] >= event.revision:
            return
        await self.outlets.replace_one(
            {"_id": event.outlet_id}, {"_id": event.outlet_id, **event.model_dump()}, upsert=True, session=session
        )

    async def get(self, outlet_id: str, session: Session | None = None) -> dict[str, Any] | None:
        return await self.outlets.find_one({"_id": outlet_id}, session=session)

    async def listing(self) -> list[dict[str, Any]]:
        return await self.outlets.find({"active": True}).sort("name", 1).to_list()

    async def pickup_point(self, outlet_id: str, field: str) -> dict[str, Any]:
        """The outlet as a pick-up delivery records it; a clear 422 for an unknown or closed one."""
        outlet = await self.get(outlet_id)
        if outlet is None:
            raise Refused(422, f"outlet {outlet_id} tidak dikenal: pilih salah satu NTT Mart (GET /outlets)", field)
        if not outlet["active"]:
            raise Refused(422, f"{outlet['name']} sedang tidak melayani pengambilan pesanan: pilih outlet lain atau kurir", field)
        return {key: outlet[key] for key in FIELDS}
