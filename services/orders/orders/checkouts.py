"""Checkouts written together (issue 11). A checkout is one document: the order, with its claim of
the Idempotency-Key and its `order_placed` event (an outbox row embedded in it, outbox.py), so it is
stored by one insert without a transaction (it was a transaction of four round trips: key, order,
event, commit, each waiting behind the rest of the rush in the database). The checkouts arriving
while one write runs wait and share the next: one insert of several orders, and a quiet shop adds
no wait (the first checkout is written at once).

Each checkout keeps its own outcome: an order whose key another order has claimed is not stored
and its checkout answers with that order (api.py), unless that claim has expired, when the key is
released and the order inserted again. A database that cannot be reached fails them all, and each
answers 503."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from beli_contracts.orders import OrderPlaced
from beli_contracts.values import Customer, OrderItem
from beli_runtime import tracing
from beli_runtime.clock import utcnow
from beli_runtime.group_commit import GroupCommit
from beli_runtime.mongo import database_unavailable
from beli_runtime.outbox import EMBEDDED, embedded_in
from beli_runtime.service import ServiceRuntime
from orders.store import OrdersStore

# Checkout writes at once; the checkouts arriving meanwhile wait for the next.
WRITERS = 2


@dataclass(frozen=True)
class Placement:
    """One checkout's order, its idempotency key, the answer a retry replays, and its event."""

    key: str
    fingerprint: str
    order: dict[str, Any]
    response: dict[str, Any]
    event: OrderPlaced
    trace: dict[str, str]  # the checkout request's trace, which its event continues

    @property
    def order_id(self) -> str:
        return str(self.order["_id"])


def placement(
    key: str, fingerprint: str, order: dict[str, Any], payload: dict[str, Any], response: dict[str, Any], now: datetime
) -> Placement:
    """An online checkout's or a till sale's (its order carries the outlet's `channel`)."""
    event = OrderPlaced(
        order_id=order["_id"],
        customer=Customer(**payload["customer"]),
        items=[OrderItem(**item) for item in payload["items"]],
        placed_at=now,
        **({"channel": order["channel"]} if "channel" in order else {}),
    )
    return Placement(key, fingerprint, order, response, event, tracing.carrier())


class Checkouts:
    def __init__(self, runtime: ServiceRuntime, store: OrdersStore) -> None:
        self._runtime = runtime
        self._store = store
        self._queue: GroupCommit[Placement, DuplicateKeyError | None] = GroupCommit(
            self._write, "checkouts", not_the_items_fault=database_unavailable, writers=WRITERS
        )

    async def place(self, placement: Placement) -> None:
        """Store the order with its key and its event; DuplicateKeyError when the key is taken."""
        refused = await self._queue.submit(placement)
        if refused is not None:
            raise refused

    async def _write(self, checkouts: Sequence[Placement]) -> list[DuplicateKeyError | None]:
        now = utcnow()
        documents = [self._document(checkout, now) for checkout in checkouts]
        outcomes = await self._store.place(documents)
        for n, refused in enumerate(outcomes):
            if refused is not None and await self._store.release(checkouts[n].key, now):
                [outcomes[n]] = await self._store.place([documents[n]])
        stored = [
            embedded_in(document, self._store.orders.name) for document, refused in zip(documents, outcomes, strict=True) if refused is None
        ]
        if stored:
            self._runtime.events_written(stored)
        return outcomes

    def _document(self, checkout: Placement, now: datetime) -> dict[str, Any]:
        row = self._runtime.outbox.embedded_row([(checkout.event, checkout.order_id, checkout.trace)], correlated=True)
        document = self._store.claiming(checkout.order, checkout.key, checkout.fingerprint, checkout.response, now)
        return document | {EMBEDDED: row}
