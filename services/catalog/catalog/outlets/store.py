"""Outlets in the catalog's database. Every write puts an OutletChanged carrying the whole outlet
into the outbox in the same transaction, so the copies other services keep never miss a change."""

from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from beli_contracts.outlets import SEEDED_OUTLETS, OutletChanged, outlet_name_for
from beli_runtime.clock import utcnow
from beli_runtime.mongo import Database, Session
from beli_runtime.outbox import Outbox
from catalog.documents import OutletDocument
from catalog.outlets.models import DEFAULT_HOURS, Outlet

Write = Callable[[Callable[[Session], Awaitable[Any]]], Awaitable[Any]]


# The seat (ibu kota) of each regency: where its NTT Mart stands until the operator sets the street.
SEATS = {
    "Kota Kupang": "Kupang",
    "Kupang": "Oelamasi",
    "Timor Tengah Selatan": "Soe",
    "Timor Tengah Utara": "Kefamenanu",
    "Belu": "Atambua",
    "Malaka": "Betun",
    "Alor": "Kalabahi",
    "Lembata": "Lewoleba",
    "Flores Timur": "Larantuka",
    "Sikka": "Maumere",
    "Ende": "Ende",
    "Nagekeo": "Mbay",
    "Ngada": "Bajawa",
    "Manggarai Timur": "Borong",
    "Manggarai": "Ruteng",
    "Manggarai Barat": "Labuan Bajo",
    "Sumba Barat Daya": "Tambolaka",
    "Sumba Barat": "Waikabubak",
    "Sumba Tengah": "Waibakul",
    "Sumba Timur": "Waingapu",
    "Rote Ndao": "Ba'a",
    "Sabu Raijua": "Seba",
}


def seeded_address(regency: str) -> str:
    """ "Atambua, Kabupaten Belu, Nusa Tenggara Timur": the town, not the outlet's name again."""
    area = regency if regency.startswith("Kota ") else f"Kabupaten {regency}"
    return f"{SEATS.get(regency, regency)}, {area}, Nusa Tenggara Timur"


def first_seeded_address(regency: str) -> str:
    """What the first release seeded (it repeated the outlet's name); replaced at start-up."""
    return f"NTT Mart {regency}, {regency}, Nusa Tenggara Timur"


def seeded_outlet(outlet_id: str, regency: str, index: int) -> OutletDocument:
    """A seeded outlet's starting details; the operator replaces the address and phone."""
    now = utcnow()
    return OutletDocument(
        id=outlet_id,
        name=outlet_name_for(regency),
        regency=regency,
        address=seeded_address(regency),
        opening_hours=DEFAULT_HOURS,
        phone=f"0380{index + 1:07d}",
        active=True,
        revision=1,
        created_at=now,
        updated_at=now,
    )


class OutletStore:
    def __init__(self, db: Database, outbox: Outbox, write: Write) -> None:
        self.outlets = db["outlets"]
        self.outbox = outbox
        self.write = write

    async def seed(self) -> int:
        """The 22 outlets, each created once, in one transaction (start-up stays quick). A restart
        adds nothing; an instance that loses the race to another one retries with what is left."""
        existing = {doc["_id"] async for doc in self.outlets.find({}, {"_id": 1})}
        await self._readdress_first_seeds()
        missing = [
            seeded_outlet(outlet_id, regency, index)
            for index, (outlet_id, regency) in enumerate(SEEDED_OUTLETS.items())
            if outlet_id not in existing
        ]
        if not missing:
            return 0

        async def work(session: Session) -> None:
            await self.outlets.insert_many([outlet.to_document() for outlet in missing], session=session)
            for outlet in missing:
                await self._announce(session, outlet)

        try:
            await self.write(work)
        except DuplicateKeyError:
            return await self.seed()
        return len(missing)

    async def _readdress_first_seeds(self) -> None:
        """Seeded outlets still at the first release's address (the operator never changed it)
        get the town's; announced like any change, so other services' copies follow."""
        stale = {first_seeded_address(regency): regency for regency in SEATS}
        async for outlet in self.outlets.find({"address": {"$in": list(stale)}}, {"address": 1}):
            await self.update(outlet["_id"], {"address": seeded_address(stale[outlet["address"]])})

    async def create(self, fields: dict[str, Any]) -> OutletDocument | None:
        """The new outlet, or None when its id is taken."""
        outlet = OutletDocument.model_validate(fields | {"revision": 1, "created_at": utcnow(), "updated_at": utcnow()})

        async def work(session: Session) -> None:
            await self.outlets.insert_one(outlet.to_document(), session=session)
            await self._announce(session, outlet)

        try:
            await self.write(work)
        except DuplicateKeyError:
            return None
        return outlet

    async def update(self, outlet_id: str, changes: dict[str, Any]) -> OutletDocument | None:
        async def work(session: Session) -> OutletDocument | None:
            outlet = OutletDocument.maybe(
                await self.outlets.find_one_and_update(
                    {"_id": outlet_id},
                    {"$set": changes | {"updated_at": utcnow()}, "$inc": {"revision": 1}},
                    session=session,
                    return_document=ReturnDocument.AFTER,
                )
            )
            if outlet is not None:
                await self._announce(session, outlet)
            return outlet

        return await self.write(work)

    async def get(self, outlet_id: str, session: Session | None = None) -> OutletDocument | None:
        return OutletDocument.maybe(await self.outlets.find_one({"_id": outlet_id}, session=session))

    async def all(self, *, active_only: bool) -> list[OutletDocument]:
        query = {"active": True} if active_only else {}
        return [OutletDocument.from_document(doc) for doc in await self.outlets.find(query).sort("_id", 1).to_list()]

    async def _announce(self, session: Session, outlet: OutletDocument) -> None:
        event = OutletChanged(
            outlet_id=outlet.id,
            name=outlet.name,
            regency=outlet.regency,
            address=outlet.address,
            opening_hours=outlet.opening_hours,
            phone=outlet.phone,
            active=outlet.active,
            revision=outlet.revision,
        )
        await self.outbox.add(session, event, key=outlet.id)


def outlet_view(outlet: OutletDocument) -> Outlet:
    fields = ("name", "regency", "address", "opening_hours", "phone", "active")
    return Outlet(id=outlet.id, **{name: getattr(outlet, name) for name in fields})
