"""The programme's read models fed with payments' and orders' events on the real database,
without Kafka: each figure counted once (a settlement again, a refund again, a cancellation), the
"commitment met" message once, and a settlement costing a handful of round trips (issue 11)."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from beli_contracts import Envelope
from beli_contracts.orders import OrderCancelled
from beli_contracts.payments import LevyEntry, LevyReversed, PaymentSettled
from beli_contracts.values import Customer, SellerContact, SettledLine
from beli_runtime.inbox import Inbox
from beli_runtime.mongo import Session, in_transaction
from beli_runtime.outbox import Outbox
from programme import domain
from programme.handlers import ProgrammeHandlers
from programme.main import build_service
from programme.settings import ProgrammeSettings
from programme.store import ProgrammeStore
from programme.tallies import Tallies, asn_key
from tests.service_layer import ServiceDatabase, outbox_events, ready

pytestmark = pytest.mark.infra  # the real database (no broker)

AT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
MONTH = domain.month_of(AT)
NIP = "198503122010012001"
CRUD = {"insert", "update", "delete", "find", "findAndModify", "aggregate", "count"}


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in CRUD:
            self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Programme:
    """The tallies on a client whose every command is counted."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str, commands: Commands) -> None:
        self.client = client
        self.db = client[database]
        self.commands = commands
        self.tallies = Tallies(ProgrammeStore(self.db), Outbox(self.db, source="programme"), default_commitment=100_000)

    async def apply(self, work: Callable[[Session], Awaitable[None]]) -> list[str]:
        """Run one event's work in a transaction, as the consumer does; the commands it sent."""
        self.commands.names.clear()
        await in_transaction(self.client, work)
        return list(self.commands.names)

    async def month(self) -> dict[str, Any]:
        return await self.db["months"].find_one({"_id": MONTH}) or {}


@pytest.fixture
async def programme(service_database: ServiceDatabase) -> AsyncIterator[Programme]:
    service = build_service(ProgrammeSettings(**service_database.settings()))
    async with ready(service):
        commands = Commands()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(service_database.mongodb_url, event_listeners=[commands], tz_aware=True)
        try:
            yield Programme(client, service_database.mongodb_database, commands)
        finally:
            await client.close()


def seller(seller_id: str, regency: str) -> SellerContact:
    return SellerContact(
        seller_id=seller_id, name=f"UMKM {seller_id}", email=f"{seller_id}@example.id", phone="081200000000", regency=regency
    )


def line(product_id: str, who: SellerContact, price: int, quantity: int = 1, ovop: str | None = None) -> SettledLine:
    gross = price * quantity
    return SettledLine(
        product_id=product_id,
        product_name=f"Produk {product_id}",
        category="kuliner",
        seller=who,
        quantity=quantity,
        unit_price=price,
        ovop_village=ovop,
        levy=gross // 100,
        seller_payable=gross - gross // 100,
        levy_rule_id="default",
        levy_rule_version=1,
    )


def settlement(order_id: str, account_id: str, lines: list[SettledLine]) -> PaymentSettled:
    gross = sum(item.subtotal for item in lines)
    levy = sum(item.levy for item in lines)
    return PaymentSettled(
        order_id=order_id,
        customer=Customer(name="Ina", email=f"{account_id}@example.id", phone="081300000000", account_id=account_id),
        lines=lines,
        gross_amount=gross,
        levy_total=levy,
        seller_payable_total=gross - levy,
        payment_type="qris",
        transaction_id=f"trx-{order_id}",
        settled_at=AT,
    )


def reversal(order_id: str, refunded: SettledLine, entry_id: str) -> LevyReversed:
    entry = LevyEntry(
        entry_id=entry_id,
        sequence=99,
        kind="reversal",
        order_id=order_id,
        product_id=refunded.product_id,
        seller_id=refunded.seller.seller_id,
        regency=refunded.seller.regency,
        category=refunded.category,
        gross=-refunded.subtotal,
        levy=-refunded.levy,
        seller_payable=-refunded.seller_payable,
        rule_id="default",
        rule_version=1,
        rate_bps=100,
        period=MONTH,
        recorded_at=AT,
        hash="h",
    )
    return LevyReversed(order_id=order_id, refund_amount=-refunded.subtotal, entries=[entry])


def dashboard(month: dict[str, Any]) -> tuple[int, int, int, int, int, int]:
    return (
        month.get("gmv", 0),
        month.get("orders", 0),
        month.get("buyers", 0),
        month.get("sellers", 0),
        month.get("refunds", 0),
        month.get("ovop_gross", 0),
    )


async def test_a_sale_counts_once_with_its_distinct_buyer_and_sellers_in_a_handful_of_round_trips(programme: Programme) -> None:
    sikka, belu = seller("s-sikka", "Sikka"), seller("s-belu", "Belu")
    first = settlement("BNTT-1", "acct-ina", [line("p1", sikka, 45_000, 2), line("p2", belu, 30_000, ovop="Desa Jenilu")])
    sent = await programme.apply(lambda session: programme.tallies.settled(session, first))
    # The sale, the buyer's spending, whether the buyer is an ASN, the month's active people, the month.
    assert len(sent) <= 5, sent
    assert dashboard(await programme.month()) == (120_000, 1, 1, 2, 0, 30_000)

    await programme.apply(lambda session: programme.tallies.settled(session, first))  # the same sale again (another event id)
    second = settlement("BNTT-2", "acct-ina", [line("p1", sikka, 45_000)])
    await programme.apply(lambda session: programme.tallies.settled(session, second))
    month = await programme.month()
    assert dashboard(month) == (165_000, 2, 1, 2, 0, 30_000)  # the same buyer and seller are counted once a month
    assert month["by_regency"] == {"Sikka": 135_000, "Belu": 30_000}
    spending = await programme.db["spending"].find_one({"_id": f"acct-ina:{MONTH}"})
    assert spending is not None and spending["spent"] == 165_000 and len(spending["orders"]) == 2


async def test_refunds_count_once_and_cancelled_orders_never(programme: Programme) -> None:
    sikka = seller("s-sikka", "Sikka")
    cloth = line("p-tenun", sikka, 25_000, ovop="Desa Jenilu")
    paid = settlement("BNTT-3", "acct-markus", [cloth, line("p-madu", sikka, 30_000)])
    await programme.apply(lambda session: programme.tallies.settled(session, paid))
    refund = reversal("BNTT-3", cloth, "lev-r1")
    for _ in range(2):  # redelivered under another event id: counted once
        await programme.apply(lambda session: programme.tallies.refunded(session, refund, AT))
    assert dashboard(await programme.month()) == (30_000, 1, 1, 1, 25_000, 0)

    await programme.apply(lambda session: programme.tallies.cancelled(session, "BNTT-3"))  # too late: it was paid
    await programme.apply(lambda session: programme.tallies.cancelled(session, "BNTT-4"))
    late = settlement("BNTT-4", "acct-markus", [line("p-madu", sikka, 30_000)])
    await programme.apply(lambda session: programme.tallies.settled(session, late))  # money after the cancel: refunded, never counted
    assert dashboard(await programme.month()) == (30_000, 1, 1, 1, 25_000, 0)
    spending = await programme.db["spending"].find_one({"_id": f"acct-markus:{MONTH}"})
    assert spending is not None and spending["spent"] == 30_000


async def test_an_asn_meeting_the_commitment_is_told_once_and_counted_in_the_opd(programme: Programme) -> None:
    await programme.db["opds"].insert_one({"_id": "sikka-dinkes", "name": "Dinas Kesehatan Kabupaten Sikka", "government": "Sikka"})
    asn = {"_id": NIP, "name": "Ina Parera", "opd_id": "sikka-dinkes", "government": "Sikka", "email": "ina@example.id", "phone": ""}
    await programme.db["asn"].insert_one(asn)
    await programme.db["links"].insert_one({"_id": "acct-asn", "nip": NIP, "email": "ina@example.id", "phone": None})
    sikka = seller("s-sikka", "Sikka")
    for number, price in enumerate((60_000, 50_000, 20_000)):
        sale = settlement(f"BNTT-5{number}", "acct-asn", [line("p-madu", sikka, price)])
        await programme.apply(lambda session, sale=sale: programme.tallies.settled(session, sale))
    opd = await programme.db["opd_months"].find_one({"_id": f"{MONTH}:sikka-dinkes"})
    government = await programme.db["government_months"].find_one({"_id": f"{MONTH}:Sikka"})
    assert opd is not None and (opd["spent"], opd["met"]) == (130_000, 1)
    assert government is not None and (government["spent"], government["met"]) == (130_000, 1)
    events = [event for event in await outbox_events(programme.db, asn_key(NIP)) if event.type == "programme.commitment_met"]
    assert len(events) == 1 and events[0].data["spent"] == 110_000


# --- a transaction's events together (the subscription's scope) -------------------------------

READ_MODELS = ("sales", "spending", "links", "asn", "opds", "commitments", "opd_months", "government_months", "months", "actives")


async def read_model_operations(programme: Programme) -> dict[str, int]:
    """Commands the database received per read model collection of the programme (`top`)."""
    totals = (await programme.client.admin.command("top"))["totals"]
    return {name: int(totals.get(f"{programme.db.name}.{name}", {}).get("total", {}).get("count", 0)) for name in READ_MODELS}


async def consumed_together(programme: Programme, events: list[Any], failing: str | None = None) -> list[BaseException | None]:
    """The events handed to the programme's consumer at the same time, as its partitions would:
    the runtime's inbox, wired as the consumer wires it, writes them in one transaction around the
    subscription's scope (the handler of the event keyed `failing` raises). What became of each event."""
    subscription = ProgrammeHandlers(programme.tallies).subscription()
    outbox = Outbox(programme.db, source="programme")
    inbox = Inbox(
        programme.client,
        programme.db,
        outbox,
        subscription.writes,
        writers=1,
        scope=subscription.scope,
        state_guarded=subscription.state_guarded,
    )

    def handler(envelope: Envelope) -> Any:
        handle = subscription.handlers[envelope.type]

        async def failing_handler(envelope: Envelope, payload: Any, session: Session) -> None:
            await handle(envelope, payload, session)
            raise ValueError("a handler failed")

        return failing_handler if envelope.key == failing else handle

    envelopes = [Envelope.wrap(event, key=event.order_id, source=event.TYPE.split(".")[0]) for event in events]
    outcomes = await asyncio.gather(*(inbox.apply(e, e.payload(), handler(e)) for e in envelopes), return_exceptions=True)
    return [outcome if isinstance(outcome, BaseException) else None for outcome in outcomes]


def cancellation(order_id: str) -> OrderCancelled:
    return OrderCancelled(
        order_id=order_id, customer=Customer(name="Markus", email="markus@example.id", phone="0813"), reason="payment_expired"
    )


async def test_events_consumed_together_cost_fewer_operations_than_events_and_every_figure_adds_up(programme: Programme) -> None:
    """Two sales of one buyer, a settlement delivered twice, an order cancelled before its money
    came, a refund of a sale settled in the same batch: one transaction, fewer operations on the
    read models than events, and every figure as if the events had come one by one."""
    sikka, belu = seller("s-sikka", "Sikka"), seller("s-belu", "Belu")
    first = settlement("BNTT-70", "acct-ina", [line("p1", sikka, 45_000, 2), line("p2", belu, 30_000, ovop="Desa Jenilu")])
    madu = line("p-madu", sikka, 45_000)
    events = [
        first,
        settlement("BNTT-71", "acct-ina", [madu]),
        first,  # delivered again under another event id
        cancellation("BNTT-72"),
        settlement("BNTT-72", "acct-markus", [line("p1", sikka, 45_000)]),  # money after the cancel: never counted
        settlement("BNTT-73", "acct-yosef", [line("p3", belu, 20_000)]),
        reversal("BNTT-71", madu, "lev-r71"),
        settlement("BNTT-74", "acct-yosef", [line("p1", sikka, 45_000)]),
    ]
    before = await read_model_operations(programme)
    assert await consumed_together(programme, events) == [None] * len(events)
    spent = {name: count - before[name] for name, count in (await read_model_operations(programme)).items() if count > before[name]}

    assert sum(spent.values()) < len(events), spent
    month = await programme.month()
    assert dashboard(month) == (120_000 + 45_000 + 20_000 + 45_000 - 45_000, 4, 2, 2, 45_000, 30_000)
    assert month["by_regency"] == {"Sikka": 90_000 + 45_000 + 45_000 - 45_000, "Belu": 30_000 + 20_000}
    spending = {doc["account_id"]: doc for doc in await programme.db["spending"].find().to_list()}
    assert sorted(spending) == ["acct-ina", "acct-yosef"]
    assert spending["acct-ina"]["spent"] == 120_000 and [o["kind"] for o in spending["acct-ina"]["orders"]] == ["paid", "paid", "refund"]
    assert spending["acct-yosef"]["spent"] == 65_000 and len(spending["acct-yosef"]["orders"]) == 2
    assert await programme.db["inbox"].count_documents({}) == 0  # state-guarded: no inbox rows
    print(f"\n[programme] {len(events)} events consumed together: {sum(spent.values())} read model operations {spent}")


async def test_an_asn_in_a_batch_whose_other_event_fails_is_counted_once_with_its_opd(programme: Programme) -> None:
    """A failing handler aborts the batch's transaction and the runtime writes its events again
    one at a time: each then has a unit of work of its own, the failed event counts nowhere and
    the others count once (the ASN's OPD and government with them, its "met" message once)."""
    await programme.db["opds"].insert_one({"_id": "sikka-dinkes", "name": "Dinas Kesehatan Kabupaten Sikka", "government": "Sikka"})
    asn = {"_id": NIP, "name": "Ina Parera", "opd_id": "sikka-dinkes", "government": "Sikka", "email": "ina@example.id", "phone": ""}
    await programme.db["asn"].insert_one(asn)
    await programme.db["links"].insert_one({"_id": "acct-asn", "nip": NIP, "email": "ina@example.id", "phone": None})
    sikka = seller("s-sikka", "Sikka")
    sales = [
        settlement(f"BNTT-8{number}", "acct-asn", [line("p-madu", sikka, price)]) for number, price in enumerate((60_000, 50_000, 20_000))
    ]
    broken = settlement("BNTT-89", "acct-asn", [line("p-kopi", sikka, 99_000)])

    outcomes = await consumed_together(programme, [sales[0], broken, *sales[1:]], failing="BNTT-89")
    assert [type(outcome).__name__ for outcome in outcomes] == ["NoneType", "ValueError", "NoneType", "NoneType"]
    opd = await programme.db["opd_months"].find_one({"_id": f"{MONTH}:sikka-dinkes"})
    government = await programme.db["government_months"].find_one({"_id": f"{MONTH}:Sikka"})
    assert opd is not None and (opd["spent"], opd["met"]) == (130_000, 1)
    assert government is not None and (government["spent"], government["met"]) == (130_000, 1)
    assert dashboard(await programme.month()) == (130_000, 3, 1, 1, 0, 0)
    assert await programme.db["sales"].find_one({"_id": "BNTT-89"}) is None
    events = [event for event in await outbox_events(programme.db, asn_key(NIP)) if event.type == "programme.commitment_met"]
    assert len(events) == 1 and events[0].data["spent"] == 110_000


async def test_spending_before_the_nip_is_linked_joins_the_opd_when_it_is(programme: Programme) -> None:
    await programme.db["opds"].insert_one({"_id": "sikka-dinkes", "name": "Dinas Kesehatan Kabupaten Sikka", "government": "Sikka"})
    await programme.db["asn"].insert_one({"_id": NIP, "name": "Ina Parera", "opd_id": "sikka-dinkes", "government": "Sikka", "email": ""})
    sikka = seller("s-sikka", "Sikka")
    for number, price in enumerate((70_000, 40_000)):
        sale = settlement(f"BNTT-9{number}", "acct-late", [line("p-madu", sikka, price)])
        await programme.apply(lambda session, sale=sale: programme.tallies.settled(session, sale))
    assert await programme.db["opd_months"].count_documents({}) == 0  # not an ASN yet

    async def link(session: Session) -> None:
        await programme.db["links"].insert_one({"_id": "acct-late", "nip": NIP, "email": "ina@example.id"}, session=session)
        await programme.tallies.link_account(session, "acct-late")

    await programme.apply(link)
    opd = await programme.db["opd_months"].find_one({"_id": f"{MONTH}:sikka-dinkes"})
    assert opd is not None and (opd["spent"], opd["met"]) == (110_000, 1)
    spending = await programme.db["spending"].find_one({"_id": f"acct-late:{MONTH}"})
    assert spending is not None and (spending["nip"], spending["spent"], spending["met_notified"]) == (NIP, 110_000, True)
    events = [event for event in await outbox_events(programme.db, asn_key(NIP)) if event.type == "programme.commitment_met"]
    assert len(events) == 1 and events[0].data["spent"] == 110_000
