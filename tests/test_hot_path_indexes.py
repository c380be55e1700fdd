"""Every query the checkout saga runs in catalog, orders and payments, and every query of the
notifications that follow it (the sending job, the inbox and its unread badge, the admin's
listing filters), is served by an index (issue 11), on a database whose indexes the services
created as they do at start-up.

What SecantusDB's `explain` can and cannot say (measured on 0.7.0b3): it explains `find` and
`count` in mongod's shapes (IXSCAN / COLLSCAN stages), and its IXSCAN is true; but it answers
COLLSCAN for every `update` and `findAndModify` whatever their filter, and for a `find` whose
filter has fields beyond an index's keys (`{_id, status}`, `{status, created_at}` with an index
on status and updated_at), although the query runs on that index (timed on 20,000 documents:
10-20 ms, where a true collection scan takes about 2 s). So each query is explained as the `find`
with its filter (the plan that selects the documents an update writes); an IXSCAN passes, and a
COLLSCAN passes only if an index of the collection leads with a field the filter matches on (which
is how the server picks its index), and fails otherwise: then no index can serve it.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from beli_runtime.consumer import Subscription
from beli_runtime.mongo import Database
from catalog.main import build_service as build_catalog
from catalog.settings import CatalogSettings
from notifications.main import build_service as build_notifications
from notifications.settings import NotificationsSettings
from notifications.store import MESSAGE
from orders.main import build_service as build_orders
from orders.settings import OrdersSettings
from payments.main import build_service as build_payments
from payments.settings import PaymentsSettings
from tests.service_layer import ServiceDatabase, ready

pytestmark = pytest.mark.infra  # the real database

NOW = datetime(2026, 11, 25, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SENDING = ["email", "whatsapp", "sms"]
# (service, collection, filter, sort): the saga's queries, with where they are run.
HOT_PATH: list[tuple[str, str, dict[str, Any], dict[str, int] | None]] = [
    # every service: the outbox relay, the consumer's inbox and dead letters
    ("orders", "outbox", {"published_at": None}, {"created_at": 1, "_id": 1}),
    ("orders", "dead_letters", {"status": "dead", "failed_at": {"$lt": NOW}}, None),
    # catalog: reservations (store.reserve / commit / release / sweeper; stock_work's reads per transaction)
    ("catalog", "products", {"_id": {"$in": ["prd-1", "prd-2"]}}, None),
    ("catalog", "reservations", {"_id": "BNTT-1", "status": "released"}, None),
    ("catalog", "reservations", {"_id": "BNTT-1", "status": "held", "outlet_id": None, "lines_digest": "d"}, None),  # commit
    ("catalog", "reservations", {"holder": {"$in": ["acc-1", "acc-2"]}, "status": "held"}, None),
    ("catalog", "reservations", {"status": "held", "expires_at": {"$lt": NOW}}, None),
    # orders: transitions guarded by status (store.move / annotate / save_fulfilment), the sweeper
    ("orders", "orders", {"_id": "BNTT-1", "status": {"$in": ["PENDING", "AWAITING_PAYMENT"]}}, None),
    ("orders", "orders", {"_id": "BNTT-1", "status": "PAID", "fulfilment_version": {"$exists": False}}, None),
    ("orders", "orders", {"status": "PENDING", "created_at": {"$lt": NOW}}, None),
    # orders: a checkout's Idempotency-Key (store.remembered / release), its embedded event (the relay's look)
    ("orders", "orders", {"idempotency.key": "acc-1:k"}, None),
    ("orders", "orders", {"idempotency.key": "acc-1:k", "idempotency.expires_at": {"$lt": NOW}}, None),
    ("orders", "orders", {"outbox.created_at": {"$gte": EPOCH}}, {"outbox.created_at": 1, "outbox._id": 1}),
    ("orders", "orders", {"status": "AWAITING_PAYMENT", "pay_before": {"$lt": NOW}}, None),
    # payments: the jobs' due work, transitions, notifications answered per order, refunds
    ("payments", "payments", {"status": "OPENING", "next_attempt_at": {"$lte": NOW}}, {"next_attempt_at": 1}),
    ("payments", "payments", {"cancel_requested": True, "status": "AWAITING", "next_attempt_at": {"$lte": NOW}}, None),
    ("payments", "payments", {"_id": "BNTT-1", "status": {"$in": ["OPENING", "AWAITING", "FAILED"]}}, None),
    ("payments", "midtrans_notifications", {"processed": False, "next_attempt_at": {"$lte": NOW}}, {"received_at": 1}),
    ("payments", "midtrans_notifications", {"order_id": "BNTT-1", "processed": False}, None),
    ("payments", "refunds", {"order_id": "BNTT-1", "status": {"$in": ["REQUESTED", "SENT"]}}, None),
    ("payments", "refunds", {"status": "REQUESTED", "source": "api", "retry_at": {"$lte": NOW}}, None),
    ("payments", "levy_entries", {"order_id": "BNTT-1", "sequence": {"$gte": 1, "$lte": 10}}, {"sequence": 1}),
    # notifications: the sending job's look (store.due), the inbox by e-mail and by phone (its messages:
    # MESSAGE, the read mark), its unread badge and mark-read, and the admin's listing by status,
    # order or recipient (store.list_deliveries)
    ("notifications", "deliveries", {"due_at": {"$gte": EPOCH, "$lte": NOW}, "channel": {"$in": SENDING}}, {"due_at": 1}),
    ("notifications", "deliveries", {"recipient": "ina@umkm.example.id", **MESSAGE}, {"created_at": -1}),
    ("notifications", "deliveries", {"recipient": "ina@umkm.example.id", "read": False}, None),
    ("notifications", "deliveries", {"phone": "+6281234567890", **MESSAGE}, {"created_at": -1}),
    ("notifications", "deliveries", {"phone": "+6281234567890", "read": False}, None),
    ("notifications", "deliveries", {"status": "failed", "channel": {"$in": SENDING}}, {"created_at": -1}),
    ("notifications", "deliveries", {"order_id": "BNTT-1", "channel": {"$in": SENDING}}, {"created_at": -1}),
    ("notifications", "deliveries", {"recipient": "ina@umkm.example.id", "channel": {"$in": SENDING}}, {"created_at": -1}),
]


@pytest.fixture
async def databases(database: str) -> AsyncIterator[dict[str, Database]]:
    """The services' databases with the indexes their start-up creates."""
    suffix = uuid.uuid4().hex[:8]
    services = {
        "catalog": build_catalog(CatalogSettings(**ServiceDatabase(database, f"beli_catalog_ix{suffix}").settings())),
        "orders": build_orders(OrdersSettings(**ServiceDatabase(database, f"beli_orders_ix{suffix}").settings())),
        "payments": build_payments(
            PaymentsSettings(**ServiceDatabase(database, f"beli_payments_ix{suffix}").settings(), midtrans_server_key="SB-Mid-server-test")
        ),
        "notifications": build_notifications(
            NotificationsSettings(**ServiceDatabase(database, f"beli_notifications_ix{suffix}").settings())
        ),
    }
    for service in services.values():
        # The consumers' own indexes (dead letters) come with a subscription, as in the running service.
        service.runtime.subscribe(Subscription(topics=(), handlers={}))
    async with ready(services["catalog"]), ready(services["orders"]), ready(services["payments"]), ready(services["notifications"]):
        yield {name: service.runtime.db for name, service in services.items()}
        for service in services.values():
            await service.runtime.client.drop_database(service.runtime.db.name)


def stages(plan: dict[str, Any]) -> list[str]:
    """The stage names of a plan tree, root first."""
    found = [plan.get("stage", "")]
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if isinstance(child, dict):
            found += stages(child)
    return found


async def test_the_saga_queries_use_indexes(databases: dict[str, Database]) -> None:
    scans = []
    for service, collection, query, sort in HOT_PATH:
        command: dict[str, Any] = {"find": collection, "filter": query, **({"sort": sort} if sort else {})}
        explained = await databases[service].command({"explain": command, "verbosity": "queryPlanner"})
        plan = stages(explained["queryPlanner"]["winningPlan"])
        if "IXSCAN" in plan and "COLLSCAN" not in plan:
            continue
        leading = {next(iter(index["key"]))[0] for index in (await databases[service][collection].index_information()).values()}
        if not leading & {field for field in query if not field.startswith("$")}:
            scans.append(f"{service}.{collection} {query}: {' <- '.join(plan)}, indexes lead with {sorted(leading)}")
    assert not scans, "queries of the saga that no index serves:\n" + "\n".join(scans)
