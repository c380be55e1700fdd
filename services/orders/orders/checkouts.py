"""Checkouts written together (issue 11): the orders placed while a checkout transaction is being
written wait and share the next one, so a payday rush of checkouts writes one transaction for
several orders (one write of their idempotency keys, one of the orders, one of their
`order_placed` events, one commit) rather than four operations per order, and a quiet shop adds no
wait (the first checkout is written at once).

Each checkout keeps its own outcome. A batch that fails for one checkout's sake (a key a concurrent
checkout has just claimed: a duplicate key) is written again one checkout at a time, so only that
checkout gets the error (and answers with the other's order, as before); a database that cannot be
reached fails them all, and each answers 503."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beli_contracts.orders import OrderPlaced
from beli_contracts.values import Customer, OrderItem
from beli_runtime import tracing
from beli_runtime.group_commit import GroupCommit
from beli_runtime.mongo import Session, database_unavailable
from beli_runtime.service import ServiceRuntime
from orders.store import OrdersStore

# Checkout transactions written at once; the checkouts arriving meanwhile wait for the next.
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
        self._queue: GroupCommit[Placement, None] = GroupCommit(
            self._write, "checkouts", not_the_items_fault=database_unavailable, writers=WRITERS
        )

    async def place(self, placement: Placement) -> None:
        """Store the order with its key and announce it; DuplicateKeyError when the key is taken."""
        await self._queue.submit(placement)

    async def _write(self, checkouts: Sequence[Placement]) -> list[None]:
        async def work(session: Session) -> None:
            await self._store.place(session, [(c.key, c.fingerprint, c.order, c.response) for c in checkouts])
            events = [(c.event, c.order_id, c.trace) for c in checkouts]
            await self._runtime.outbox.add_each(session, events, correlated=True)

        await self._runtime.write(work)
        return [None] * len(checkouts)
