"""The read models, kept up to date by sales events inside the consumer's inbox transaction.

- `spending` (account, month): counted spending = gross of PAID orders by WITA month of settlement
  minus refunds in the month refunded; the orders counted are listed.
- `opd_months` / `government_months`: spending and how many ASN met the commitment, per month.
- `months`: the dashboard (GMV, PAD levy, by seller regency, OVOP, active buyers and sellers).
Every change is guarded against replays per order, by what was already applied (settlement once,
by the sale's claim; each refund by its ledger entry id), in the transaction that applies it: the
events need no inbox row (handlers.py).

The events of one transaction are handled as a unit of work (`batch`, the subscription's scope,
issue 11): before their handlers run, the sales they settle or cancel are claimed in one write and
what they read (the refunded sales, the buyers' NIP links, an ASN's spending) is read with one
`$in` per collection; the handlers change it in memory, one after another, and what they leave is
written after them with one `bulk_write` per collection, a document's changes summed into one
update. A handler called outside a batch (a single event, a test) opens one for its own event."""

import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from beli_contracts.orders import OrderCancelled
from beli_contracts.payments import LevyReversed, PaymentSettled
from beli_contracts.programme import AsnContact, CommitmentMet
from beli_runtime.inbox import OpenUnits
from beli_runtime.mongo import Session
from beli_runtime.outbox import Outbox
from programme import domain
from programme.store import Doc, ProgrammeStore, TallyBatch

CANCELLED: Doc = {"cancelled": True, "counted": False}


@dataclass
class Needs:
    """What a batch's events need before their handlers run, in event order."""

    claims: list[tuple[str, Doc]] = field(default_factory=list)  # (order, sale or CANCELLED) to store if absent
    refunds: list[tuple[str, str]] = field(default_factory=list)  # (order, month refunded)
    spending: list[tuple[str, str]] = field(default_factory=list)  # (account, month) of the settlements

    @classmethod
    def of(cls, payloads: Sequence[Any]) -> "Needs":
        needs = cls()
        for payload in payloads:
            if isinstance(payload, PaymentSettled):
                sale = sale_of(payload)
                needs.claims.append((payload.order_id, sale))
                if sale["account_id"]:
                    needs.spending.append((sale["account_id"], sale["month"]))
            elif isinstance(payload, LevyReversed):
                needs.refunds.append((payload.order_id, domain.month_of(payload.entries[0].recorded_at)))
            elif isinstance(payload, OrderCancelled):
                needs.claims.append((payload.order_id, CANCELLED))
        return needs


class Tallies:
    def __init__(self, store: ProgrammeStore, outbox: Outbox, default_commitment: int) -> None:
        self.store = store
        self.outbox = outbox
        self.default_commitment = default_commitment
        self._batches: OpenUnits[TallyBatch] = OpenUnits()  # the batch open in each transaction

    async def commitment(self, month: str, session: Session | None = None) -> int:
        return domain.commitment_for(await self.store.commitment_versions(session), month, self.default_commitment)

    # --- a transaction's events ---------------------------------------------------------------

    def scope(self, session: Session, payloads: Sequence[Any]) -> AbstractAsyncContextManager[TallyBatch]:
        """The consumer's scope around the handlers of one transaction (beli_runtime.inbox)."""
        return self.batch(session, Needs.of(payloads))

    @asynccontextmanager
    async def batch(self, session: Session, needs: Needs) -> AsyncIterator[TallyBatch]:
        batch = TallyBatch(self.store, session)
        await self._prepare(batch, needs)
        async with self._batches.opened(session, batch, batch.flush):
            yield batch

    async def _prepare(self, batch: TallyBatch, needs: Needs) -> None:
        # The refunded sales as they were before this batch: read before the claims store new ones,
        # so a refund handled before its settlement in the same batch finds none, as it would alone.
        await batch.read_sales(order_id for order_id, _ in needs.refunds)
        await batch.claim_sales(needs.claims)
        refunded = [(sale["account_id"], month) for order_id, month in needs.refunds if (sale := batch.sales[order_id])]
        spenders = needs.spending + [(account_id, month) for account_id, month in refunded if account_id]
        await batch.read_links(account_id for account_id, _ in spenders)
        # Only an ASN's spending is read (its OPD's figures and the commitment depend on it): an
        # account without a link has no NIP on its spending, which only ever gets one with a link.
        await batch.read_spending(key for key in spenders if batch.links.get(key[0]))

    @asynccontextmanager
    async def _within(self, session: Session, needs: Callable[[], Needs]) -> AsyncIterator[TallyBatch]:
        """The batch open in this transaction, or one for this event alone (what it `needs`)."""
        batch = self._batches.of(session)
        if batch is not None:
            yield batch
            return
        async with self.batch(session, needs()) as alone:
            yield alone

    async def settled(self, session: Session, event: PaymentSettled) -> None:
        async with self._within(session, lambda: Needs.of([event])) as batch:
            if not batch.claimed(event.order_id):
                return  # counted already, or an order cancelled before its money came: never (again)
            sale = sale_of(event)
            batch.sales[event.order_id] = sale
            month, lines = sale["month"], sale["lines"]
            if sale["account_id"]:
                await self.spend(batch, sale["account_id"], month, event.gross_amount, event.order_id, event.settled_at, "paid")
            by_regency: dict[str, int] = {}
            for line in lines:
                by_regency[line["regency"]] = by_regency.get(line["regency"], 0) + line["gross"]
            ovop = sum(line["gross"] for line in lines if line["ovop"])
            batch.active(month, "buyer", sale["buyer"])
            for seller_id in sorted({line["seller_id"] for line in lines}):
                batch.active(month, "seller", seller_id)
            self._dashboard(batch, month, event.gross_amount, event.levy_total, by_regency, ovop, orders=1)

    async def refunded(self, session: Session, event: LevyReversed, at: datetime) -> None:
        async with self._within(session, lambda: Needs.of([event])) as batch:
            sale = await batch.sale(event.order_id)
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
            batch.sales[event.order_id] = sale | {
                "refunded": sale.get("refunded", 0) + amount,
                "reversals": [*sale.get("reversals", []), refund_key],
            }
            batch.changes.add("sales", event.order_id, inc={"refunded": amount}, push={"reversals": refund_key})
            if sale.get("account_id"):
                await self.spend(batch, sale["account_id"], month, -amount, event.order_id, moment, "refund")
            self._dashboard(batch, month, -amount, levy, by_regency, ovop, orders=0, refunds=amount)

    async def cancelled(self, session: Session, order_id: str) -> None:
        """Cancelled orders never count. Payments settles nothing for them (a settlement that loses
        the race is refunded, and that refund is what reverses it), so only remember the cancel: its
        claim (see `_prepare`) writes nothing over a sale already stored (counted, or cancelled before)."""
        async with self._within(session, lambda: Needs(claims=[(order_id, CANCELLED)])) as batch:
            if batch.claimed(order_id):
                batch.sales[order_id] = dict(CANCELLED)

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

    async def spend(self, batch: TallyBatch, account_id: str, month: str, amount: int, order_id: str, at: datetime, kind: str) -> None:
        entry = {"order_id": order_id, "amount": amount, "kind": kind, "at": at}
        on_insert = {"account_id": account_id, "month": month}
        batch.changes.add("spending", f"{account_id}:{month}", inc={"spent": amount}, push={"orders": entry}, on_insert=on_insert)
        link = await batch.link(account_id)
        if link is None:
            return  # not (yet) an ASN: the month's spending joins the aggregates when the NIP is linked
        spending = await batch.spending_of(account_id, month)
        spending["spent"] += amount
        if spending.get("nip") is None:
            await self.attach(batch, spending, link)
            return
        commitment = await self._commitment(batch, month)
        await self._aggregate(batch, spending, spending["spent"] - amount, spending["spent"], commitment)
        await self._maybe_met(batch, spending, commitment)

    async def attach(self, batch: TallyBatch, spending: Doc, link: Doc) -> None:
        """A month's spending becomes an ASN's: it joins its OPD's and government's figures."""
        asn = await batch.asn_of(link["nip"])
        if asn is None:
            return
        fields = {"nip": asn["_id"], "opd_id": asn["opd_id"], "government": asn["government"]}
        batch.changes.add("spending", spending["_id"], fields=fields)
        spending.update(fields)
        commitment = await self._commitment(batch, spending["month"])
        await self._aggregate(batch, spending, 0, spending["spent"], commitment)
        await self._maybe_met(batch, spending, commitment)

    async def link_account(self, session: Session, account_id: str) -> None:
        async with self._within(session, Needs) as batch:
            link = await batch.link(account_id)
            if link is None:
                return
            for spending in await self.store.spending.find({"account_id": account_id, "nip": None}, session=session).to_list():
                batch.spending[spending["_id"]] = spending
                await self.attach(batch, spending, link)

    async def _commitment(self, batch: TallyBatch, month: str) -> int:
        return domain.commitment_for(await batch.versions(), month, self.default_commitment)

    async def _aggregate(self, batch: TallyBatch, spending: Doc, before: int, after: int, commitment: int) -> None:
        month, opd_id, government = spending["month"], spending["opd_id"], spending["government"]
        change = {"spent": after - before, "met": int(domain.met(after, commitment)) - int(domain.met(before, commitment))}
        batch.changes.add(
            "opd_months", f"{month}:{opd_id}", inc=change, on_insert={"month": month, "opd_id": opd_id, "government": government}
        )
        batch.changes.add("government_months", f"{month}:{government}", inc=change, on_insert={"month": month, "government": government})

    async def _maybe_met(self, batch: TallyBatch, spending: Doc, commitment: int) -> None:
        """One "met" message per ASN and month, the first time the commitment is reached."""
        if spending.get("met_notified") or not domain.met(spending["spent"], commitment):
            return
        contact = await self.contact(batch.session, spending["nip"])
        spending["met_notified"] = True
        batch.changes.add("spending", spending["_id"], fields={"met_notified": True})
        if contact is not None:
            event = CommitmentMet(month=spending["month"], asn=contact, commitment=commitment, spent=spending["spent"])
            await self.outbox.add(batch.session, event, key=asn_key(spending["nip"]))

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

    @staticmethod
    def _dashboard(
        batch: TallyBatch, month: str, gross: int, levy: int, by_regency: dict[str, int], ovop: int, *, orders: int, refunds: int = 0
    ) -> None:
        """The month's figures (its distinct buyers and sellers are added when the batch is written)."""
        increments = {"gmv": gross, "levy": levy, "ovop_gross": ovop, "orders": orders, "refunds": refunds}
        increments |= {f"by_regency.{regency}": amount for regency, amount in by_regency.items()}
        batch.changes.add("months", month, inc=increments, upsert=True)


def sale_of(event: PaymentSettled) -> Doc:
    """The sale a settlement stores: what counted, in which WITA month, for whom."""
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
    return {
        "account_id": event.customer.account_id,
        "buyer": event.customer.account_id or domain.normal_email(event.customer.email),
        "month": domain.month_of(event.settled_at),
        "settled_at": event.settled_at,
        "gross": event.gross_amount,
        "refunded": 0,
        "counted": True,
        "lines": lines,
        "reversals": [],
    }


def asn_key(nip: str) -> str:
    """Kafka key of an ASN's events: stable per person without putting the NIP itself on the wire."""
    return "asn-" + hashlib.sha256(nip.encode()).hexdigest()[:20]
