"""The read models, kept up to date by sales events inside the consumer's inbox transaction.

- `spending` (account, month): counted spending = gross of PAID orders by WITA month of settlement
  minus refunds in the month refunded; the orders counted are listed.
- `opd_months` / `government_months`: spending and how many ASN met the commitment, per month.
- `months`: the dashboard (GMV, PAD levy, by seller regency, OVOP, active buyers and sellers).
Every change is guarded twice against replays: the consumer's inbox (event id) and, per order,
what was already applied (settlement once, each refund by its ledger entry id)."""

import hashlib
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument, UpdateOne

from beli_contracts.payments import LevyReversed, PaymentSettled
from beli_contracts.programme import AsnContact, CommitmentMet
from beli_runtime.mongo import Session
from beli_runtime.outbox import Outbox
from programme import domain
from programme.store import Doc, ProgrammeStore


class Tallies:
    def __init__(self, store: ProgrammeStore, outbox: Outbox, default_commitment: int) -> None:
        self.store = store
        self.outbox = outbox
        self.default_commitment = default_commitment

    async def commitment(self, month: str, session: Session | None = None) -> int:
        return domain.commitment_for(await self.store.commitment_versions(session), month, self.default_commitment)

    # --- events -------------------------------------------------------------------------------

    async def settled(self, session: Session, event: PaymentSettled) -> None:
        order_id = event.order_id
        month = domain.month_of(event.settled_at)
        buyer = event.customer.account_id or domain.normal_email(event.customer.email)
        lines: list[Doc] = [
            {
                "product_id": line.product_id,
                "seller_id": line.seller.seller_id,
                "regency": line.seller.regency,
                "ovop": bool(line.ovop_village),
                "gross": line.subtotal,
                "levy": line.levy,
            }
            for line in event.lines
        ]
        sale = {
            "account_id": event.customer.account_id,
            "buyer": buyer,
            "month": month,
            "settled_at": event.settled_at,
            "gross": event.gross_amount,
            "refunded": 0,
            "counted": True,
            "lines": lines,
            "reversals": [],
        }
        # One guarded write instead of a read then a write: a stored sale is either counted already
        # or an order cancelled before its money came (`cancelled`), and neither may count (again).
        # An upsert that only sets on insert never fails (a failed write would abort the transaction).
        written = await self.store.sales.update_one({"_id": order_id}, {"$setOnInsert": sale}, upsert=True, session=session)
        if written.upserted_id is None:
            return
        if event.customer.account_id:
            await self.spend(session, event.customer.account_id, month, event.gross_amount, order_id, event.settled_at, "paid")
        by_regency: dict[str, int] = {}
        for line in lines:
            by_regency[line["regency"]] = by_regency.get(line["regency"], 0) + line["gross"]
        ovop = sum(line["gross"] for line in lines if line["ovop"])
        people = [("buyer", buyer)] + [("seller", seller_id) for seller_id in sorted({line["seller_id"] for line in lines})]
        new_actives = await self._actives(session, month, people)
        # The month's document is every sale's: written last, so a transaction holds it the shortest time.
        await self._dashboard(session, month, event.gross_amount, event.levy_total, by_regency, ovop, orders=1, also=new_actives)

    async def refunded(self, session: Session, event: LevyReversed, at: datetime) -> None:
        sale = await self.store.sales.find_one({"_id": event.order_id}, session=session)
        refund_key = event.entries[0].entry_id
        if sale is None or not sale.get("counted") or refund_key in sale.get("reversals", []):
            return
        moment = event.entries[0].recorded_at or at
        month = domain.month_of(moment)
        ovop_products = {line["product_id"] for line in sale["lines"] if line["ovop"]}
        by_regency: dict[str, int] = {}
        ovop = levy = 0
        for entry in event.entries:
            by_regency[entry.regency] = by_regency.get(entry.regency, 0) - abs(entry.gross)
            levy -= abs(entry.levy)
            ovop -= abs(entry.gross) if entry.product_id in ovop_products else 0
        amount = abs(event.refund_amount)
        await self.store.sales.update_one(
            {"_id": event.order_id}, {"$inc": {"refunded": amount}, "$push": {"reversals": refund_key}}, session=session
        )
        if sale.get("account_id"):
            await self.spend(session, sale["account_id"], month, -amount, event.order_id, moment, "refund")
        await self._dashboard(session, month, -amount, levy, by_regency, ovop, orders=0, refunds=amount)

    async def cancelled(self, session: Session, order_id: str) -> None:
        """Cancelled orders never count. Payments settles nothing for them (a settlement that loses
        the race is refunded, and that refund is what reverses it), so only remember the cancel:
        one upsert that writes nothing over a sale already stored (counted, or cancelled before)."""
        await self.store.sales.update_one(
            {"_id": order_id}, {"$setOnInsert": {"cancelled": True, "counted": False}}, upsert=True, session=session
        )

    async def recount_met(self, month: str) -> None:
        """The commitment of a month changed: how many met it, per OPD and government, again."""
        commitment = await self.commitment(month)
        spending = self.store.spending
        for doc in await self.store.opd_months.find({"month": month}, {"opd_id": 1}).to_list():
            count = await spending.count_documents({"month": month, "opd_id": doc["opd_id"], "spent": {"$gte": commitment}})
            await self.store.opd_months.update_one({"_id": doc["_id"]}, {"$set": {"met": count}})
        for doc in await self.store.government_months.find({"month": month}, {"government": 1}).to_list():
            count = await spending.count_documents(
                {"month": month, "government": doc["government"], "nip": {"$ne": None}, "spent": {"$gte": commitment}}
            )
            await self.store.government_months.update_one({"_id": doc["_id"]}, {"$set": {"met": count}})

    # --- read models ----------------------------------------------------------------------------

    async def spend(self, session: Session, account_id: str, month: str, amount: int, order_id: str, at: datetime, kind: str) -> None:
        entry = {"order_id": order_id, "amount": amount, "kind": kind, "at": at}
        after = await self.store.spending.find_one_and_update(
            {"_id": f"{account_id}:{month}"},
            {"$inc": {"spent": amount}, "$push": {"orders": entry}, "$setOnInsert": {"account_id": account_id, "month": month}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        assert after is not None  # upsert with AFTER always returns the document
        if after.get("nip") is None:
            link = await self.store.links.find_one({"_id": account_id}, session=session)
            if link is None:
                return  # not (yet) an ASN: the month's spending joins the aggregates when the NIP is linked
            await self.attach(session, after, link)
            return
        commitment = await self.commitment(month, session)
        await self._aggregate(session, after, after["spent"] - amount, after["spent"], commitment)
        await self._maybe_met(session, after, commitment)

    async def attach(self, session: Session, spending: Doc, link: Doc) -> None:
        """A month's spending becomes an ASN's: it joins its OPD's and government's figures."""
        asn = await self.store.asn.find_one({"_id": link["nip"]}, session=session)
        if asn is None:
            return
        fields = {"nip": asn["_id"], "opd_id": asn["opd_id"], "government": asn["government"]}
        await self.store.spending.update_one({"_id": spending["_id"]}, {"$set": fields}, session=session)
        spending = spending | fields
        commitment = await self.commitment(spending["month"], session)
        await self._aggregate(session, spending, 0, spending["spent"], commitment)
        await self._maybe_met(session, spending, commitment)

    async def link_account(self, session: Session, account_id: str) -> None:
        link = await self.store.links.find_one({"_id": account_id}, session=session)
        if link is None:
            return
        for spending in await self.store.spending.find({"account_id": account_id, "nip": None}, session=session).to_list():
            await self.attach(session, spending, link)

    async def _aggregate(self, session: Session, spending: Doc, before: int, after: int, commitment: int) -> None:
        month = spending["month"]
        met_change = int(domain.met(after, commitment)) - int(domain.met(before, commitment))
        change = {"$inc": {"spent": after - before, "met": met_change}}
        await self.store.opd_months.update_one(
            {"_id": f"{month}:{spending['opd_id']}"},
            change | {"$setOnInsert": {"month": month, "opd_id": spending["opd_id"], "government": spending["government"]}},
            upsert=True,
            session=session,
        )
        await self.store.government_months.update_one(
            {"_id": f"{month}:{spending['government']}"},
            change | {"$setOnInsert": {"month": month, "government": spending["government"]}},
            upsert=True,
            session=session,
        )

    async def _maybe_met(self, session: Session, spending: Doc, commitment: int) -> None:
        """One "met" message per ASN and month, the first time the commitment is reached."""
        if spending.get("met_notified") or not domain.met(spending["spent"], commitment):
            return
        contact = await self.contact(session, spending["nip"])
        await self.store.spending.update_one({"_id": spending["_id"]}, {"$set": {"met_notified": True}}, session=session)
        if contact is not None:
            event = CommitmentMet(month=spending["month"], asn=contact, commitment=commitment, spent=spending["spent"])
            await self.outbox.add(session, event, key=asn_key(spending["nip"]))

    async def contact(self, session: Session | None, nip: str) -> AsnContact | None:
        asn = await self.store.asn.find_one({"_id": nip}, session=session)
        if asn is None:
            return None
        link = await self.store.links.find_one({"nip": nip}, session=session)
        opd = await self.store.opds.find_one({"_id": asn["opd_id"]}, {"name": 1}, session=session)
        return AsnContact(
            name=asn["name"],
            email=(link or {}).get("email") or asn.get("email") or None,
            phone=(link or {}).get("phone") or asn.get("phone") or None,
            account_id=(link or {}).get("_id"),
            nip_masked=domain.mask_nip(nip),
            opd_name=(opd or {}).get("name", asn["opd_id"]),
        )

    async def _dashboard(
        self,
        session: Session,
        month: str,
        gross: int,
        levy: int,
        by_regency: dict[str, int],
        ovop: int,
        *,
        orders: int,
        refunds: int = 0,
        also: dict[str, int] | None = None,
    ) -> None:
        increments: dict[str, Any] = {"gmv": gross, "levy": levy, "ovop_gross": ovop, "orders": orders, "refunds": refunds}
        increments |= {f"by_regency.{regency}": amount for regency, amount in by_regency.items()}
        increments |= also or {}
        await self.store.months.update_one({"_id": month}, {"$inc": increments}, upsert=True, session=session)

    async def _actives(self, session: Session, month: str, people: list[tuple[str, str]]) -> dict[str, int]:
        """Who was active in the month, one row per (month, buyer|seller), in one round trip: upserts
        that only set on insert, so a row already there is no error (an error would abort the
        transaction, as a duplicate key of an insert would). Answers the new ones per kind
        (`buyers`, `sellers`) for the month's distinct counts."""
        writes = [
            UpdateOne({"_id": f"{month}:{kind}:{who}"}, {"$setOnInsert": {"month": month, "kind": kind}}, upsert=True)
            for kind, who in people
        ]
        result = await self.store.actives.bulk_write(writes, ordered=False, session=session)
        new: dict[str, int] = {}
        for index in result.upserted_ids or {}:
            kind = people[index][0]
            new[f"{kind}s"] = new.get(f"{kind}s", 0) + 1
        return new


def asn_key(nip: str) -> str:
    """Kafka key of an ASN's events: stable per person without putting the NIP itself on the wire."""
    return "asn-" + hashlib.sha256(nip.encode()).hexdigest()[:20]
