"""OPDs and the ASN roster (imports), and how a shopper's account becomes an ASN's: a NIP claim,
linked at once when the roster's e-mail or phone is the account's, else approved by the OPD."""

import asyncio
import re
import uuid
from typing import Any

from pymongo.errors import DuplicateKeyError

from beli_contracts.programme import NipLinked, nip_digest
from beli_runtime.auth import Principal
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.mongo import Session
from beli_runtime.service import ServiceRuntime
from programme import domain
from programme.roster_import import RosterImport
from programme.sheets import TableFile
from programme.store import Doc, ProgrammeStore
from programme.tallies import Tallies


class Roster:
    def __init__(self, runtime: ServiceRuntime, store: ProgrammeStore, tallies: Tallies) -> None:
        self.runtime = runtime
        self.store = store
        self.tallies = tallies
        self._importing = asyncio.Lock()

    async def import_opds(self, rows: list[dict[str, str]]) -> dict[str, Any]:
        good: list[Doc] = []
        rejected: list[dict[str, Any]] = []
        for number, row in enumerate(rows, start=2):
            government = row.get("government", "").strip()
            code = row.get("id", "").strip().lower()
            if government not in domain.GOVERNMENTS:
                rejected.append({"row": number, "value": code, "reason": f"pemerintah tidak dikenal: {government or '(kosong)'}"})
            elif not code or not _valid_id(code):
                rejected.append({"row": number, "value": code, "reason": "kode OPD harus huruf kecil, angka atau '-' (2-64)"})
            elif len(row.get("name", "").strip()) < 3:
                rejected.append({"row": number, "value": code, "reason": "nama OPD kosong"})
            else:
                good.append({"_id": code, "name": row["name"].strip()[:160], "government": government})
        created, matched = await self.store.upsert_opds(good)
        return {"rows": len(rows), "created": created, "updated": matched, "rejected": rejected}

    async def import_asn(self, table: TableFile) -> dict[str, Any]:
        """Idempotent: matched by NIP, a known ASN is updated (only when something changed)."""
        async with self._importing:  # one import at a time (per instance): the digest is read, then written
            opds = {doc["_id"]: doc for doc in await self.store.opds.find({}, {"government": 1}).to_list()}
            run = RosterImport(self.store, opds, await self.store.roster_digest())
            return await run.run(table)

    # --- claims -------------------------------------------------------------------------------

    async def claim(self, principal: Principal, nip_text: str) -> Doc:
        try:
            nip = domain.parse_nip(nip_text).value
        except domain.InvalidNip as invalid:
            raise ApiError(422, str(invalid), field="nip") from None
        asn = await self.store.asn.find_one({"_id": nip})
        if asn is None:
            raise ApiError(404, "NIP tidak ditemukan dalam data ASN; hubungi OPD Anda", field="nip")
        if await self.store.links.find_one({"_id": principal.account_id}):
            raise ApiError(409, "akun ini sudah terhubung dengan sebuah NIP")
        if await self.store.links.find_one({"nip": nip}):
            raise ApiError(409, "NIP ini sudah terhubung dengan akun lain; hubungi OPD Anda", field="nip")
        same_email = asn.get("email") and asn["email"] == domain.normal_email(principal.email)
        same_phone = asn.get("phone") and asn["phone"] == domain.normal_phone(principal.phone)
        claim = {
            "_id": f"clm-{uuid.uuid4().hex[:12]}",
            "account_id": principal.account_id,
            "email": domain.normal_email(principal.email) or None,
            "phone": principal.phone,
            "nip": nip,
            "opd_id": asn["opd_id"],
            "name": asn["name"],
            "status": "pending",
            "created_at": utcnow(),
        }
        if same_email or same_phone:
            return await self.link(claim, "roster_match", by=None)
        if await self.store.claims.find_one({"account_id": principal.account_id, "status": "pending"}):
            raise ApiError(409, "klaim NIP Anda sedang menunggu persetujuan OPD")
        await self.store.claims.insert_one(claim)
        return claim

    async def decide(self, claim_id: str, approve: bool, officer: Principal, opd_scope: str | None) -> Doc:
        claim = await self.store.claims.find_one({"_id": claim_id})
        if claim is None or (opd_scope is not None and claim["opd_id"] != opd_scope):
            raise ApiError(404, f"tidak ada klaim {claim_id}")
        if claim["status"] != "pending":
            raise ApiError(409, f"klaim ini sudah {claim['status']}")
        if approve:
            return await self.link(claim, "approved", by=officer.email or officer.account_id)
        await self.store.claims.update_one(
            {"_id": claim_id}, {"$set": {"status": "rejected", "decided_by": officer.email or officer.account_id, "decided_at": utcnow()}}
        )
        return claim | {"status": "rejected"}

    async def link(self, claim: Doc, how: str, by: str | None) -> Doc:
        """One NIP per account and one account per NIP, enforced by the links' unique keys."""
        now = utcnow()

        async def work(session: Session) -> None:
            link = {
                "_id": claim["account_id"],
                "nip": claim["nip"],
                "email": claim["email"],
                "phone": claim["phone"],
                "linked_at": now,
                "announced": True,
            }
            await self.store.links.insert_one(link, session=session)
            await self.announce(session, link, claim["name"], claim["opd_id"])
            await self.store.asn.update_one({"_id": claim["nip"]}, {"$set": {"account_id": claim["account_id"]}}, session=session)
            decided = {"status": "linked", "how": how, "decided_by": by, "decided_at": now}
            await self.store.claims.update_one(
                {"_id": claim["_id"]}, {"$set": decided, "$setOnInsert": _without(claim, decided)}, upsert=True, session=session
            )
            await self.tallies.link_account(session, claim["account_id"])

        try:
            await self.runtime.write(work)
        except DuplicateKeyError:
            raise ApiError(409, "NIP atau akun ini sudah terhubung") from None
        return claim | {"status": "linked", "how": how}

    async def announce(self, session: Session, link: Doc, name: str, opd_id: str) -> None:
        """programme.nip_linked, in the link's transaction: other services (orders, for the
        outlets' tills) keep their own copy and never ask us while selling."""
        event = NipLinked(
            account_id=link["_id"],
            nip_digest=nip_digest(link["nip"]),
            nip_masked=domain.mask_nip(link["nip"]),
            name=name,
            email=link.get("email"),
            phone=link.get("phone"),
            opd_id=opd_id,
            linked_at=link["linked_at"],
        )
        await self.runtime.outbox.add(session, event, key=link["_id"])

    async def announce_earlier_links(self) -> bool:
        """Links made before programme.nip_linked existed are announced once, a batch per run."""
        batch = await self.store.links.find({"announced": {"$ne": True}}).limit(200).to_list()
        for link in batch:
            asn = await self.store.asn.find_one({"_id": link["nip"]}, {"name": 1, "opd_id": 1}) or {}

            async def work(session: Session, link: Doc = link, asn: Doc = asn) -> None:
                marked = await self.store.links.update_one(
                    {"_id": link["_id"], "announced": {"$ne": True}}, {"$set": {"announced": True}}, session=session
                )
                if marked.modified_count:
                    await self.announce(session, link, asn.get("name", ""), asn.get("opd_id", ""))

            await self.runtime.write(work)
        return len(batch) == 200


def _valid_id(code: str) -> bool:
    return re.match(domain.OPD_ID_PATTERN, code) is not None


def _without(doc: Doc, fields: Doc) -> Doc:
    return {key: value for key, value in doc.items() if key not in fields and key != "_id"}
