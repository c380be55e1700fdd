"""Fulfilment of sub-orders: the seller ships, the shopper confirms receipt, or it completes on its
own after a while. Each change and its event are written in one transaction (outbox)."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from beli_contracts.orders import OrderCompleted, OrderShipped
from beli_runtime.clock import utcnow
from beli_runtime.http import ApiError
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Session
from beli_runtime.outbox import Outbox
from beli_runtime.service import ServiceRuntime
from orders.documents import OrderDocument, SubOrder
from orders.domain import (
    OrderStatus,
    SubOrderStatus,
    TransitionRefused,
    complete,
    completed,
    due_for_auto_complete,
    order_status_after,
    ship,
)
from orders.store import OrdersStore

T = TypeVar("T")
log = get_logger(__name__)
ATTEMPTS = 5


class Contended(Exception):
    """Someone else changed the order's sub-orders between our read and our write."""


async def write_retrying(runtime: ServiceRuntime, work: Callable[[Session], Awaitable[T]]) -> T:
    """`runtime.write`, read again and retried when a concurrent change to the same order won."""
    for attempt in range(ATTEMPTS):
        try:
            return await runtime.write(work)
        except Contended:
            if attempt == ATTEMPTS - 1:
                raise ApiError(409, "the order is being changed by another request right now; retry shortly") from None
    raise AssertionError("unreachable")


class Fulfilment:
    def __init__(self, store: OrdersStore, outbox: Outbox) -> None:
        self.store = store
        self.outbox = outbox

    async def ship(self, session: Session, order_id: str, seller_id: str, courier: str, tracking_number: str) -> OrderDocument:
        order, index = await self._sub_order(session, order_id, seller_id)
        now = _now()
        try:
            sub, changed = ship(order.sub_orders[index], courier, tracking_number, now)
        except TransitionRefused as refused:
            raise ApiError(
                409, f"sub-order of seller {seller_id} in order {order_id} {refused}", state=order.sub_orders[index].status
            ) from None
        if not changed:
            return order
        sub_orders = _replace(order.sub_orders, index, sub)
        await self._save(session, order, sub_orders)
        await self.outbox.add(
            session,
            OrderShipped(
                order_id=order_id,
                seller_id=seller_id,
                customer=order.customer,
                courier=courier,
                tracking_number=tracking_number,
                shipped_at=now,
                seller_name=sub.seller.name,
            ),
            key=order_id,
            correlation_id=order_id,
        )
        return order.model_copy(update={"sub_orders": sub_orders})

    async def confirm(self, session: Session, order_id: str, seller_id: str) -> OrderDocument:
        order, index = await self._sub_order(session, order_id, seller_id)
        try:
            sub, changed = complete(order.sub_orders[index], _now(), "shopper")
        except TransitionRefused as refused:
            raise ApiError(
                409, f"sub-order of seller {seller_id} in order {order_id} {refused}", state=order.sub_orders[index].status
            ) from None
        if not changed:
            return order
        return await self._complete(session, order, {index: sub})

    async def auto_complete(self, session: Session, order_id: str, shipped_before: datetime) -> int:
        """Complete every sub-order of the order in transit since before `shipped_before`."""
        order = await self.store.get(order_id, session)
        if order is None:
            return 0
        due = set(due_for_auto_complete(order.sub_orders, shipped_before))
        now = _now()
        changed = {index: complete(sub, now, "auto")[0] for index, sub in enumerate(order.sub_orders) if sub.seller_id in due}
        if changed:
            await self._complete(session, order, changed)
            log.info("orders.auto_completed", order_id=order_id, sellers=sorted(due))
        return len(changed)

    async def hand_over_at_till(self, session: Session, order: OrderDocument) -> OrderDocument:
        """An in-store sale, just paid: the buyer takes the goods, so every sub-order completes."""
        now = _now()
        changed = {
            index: completed(sub, now, "outlet") for index, sub in enumerate(order.sub_orders) if sub.status == SubOrderStatus.PAID.value
        }
        return await self._complete(session, order, changed) if changed else order

    async def _complete(self, session: Session, order: OrderDocument, changed: dict[int, SubOrder]) -> OrderDocument:
        """Save the completed sub-orders (and the order, if that was its last open part) with one
        `orders.order_completed` each: the one path of a received parcel, whoever confirmed it."""
        sub_orders = list(order.sub_orders)
        for index, sub in changed.items():
            sub_orders[index] = sub
        status = order_status_after(OrderStatus(order.status), sub_orders)
        extra = {"completed_at": _now()} if status != order.status else None
        await self._save(session, order, sub_orders, status, extra)
        for sub in changed.values():
            await self.outbox.add(
                session,
                OrderCompleted(
                    order_id=order.id,
                    seller=sub.seller,
                    gross=sub.gross,
                    levy=sub.levy,
                    seller_payable=sub.seller_payable,
                    completed_at=sub.completed_at,
                ),
                key=order.id,
                correlation_id=order.id,
            )
        return order.model_copy(update={"sub_orders": sub_orders, "status": status.value} | (extra or {}))

    async def _save(
        self,
        session: Session,
        order: OrderDocument,
        sub_orders: list[SubOrder],
        status: OrderStatus | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if not await self.store.save_fulfilment(session, order, sub_orders, status, extra):
            raise Contended(order.id)

    async def _sub_order(self, session: Session, order_id: str, seller_id: str) -> tuple[OrderDocument, int]:
        order = await self.store.get(order_id, session)
        if order is None:
            raise ApiError(404, f"order {order_id} not found")
        if not order.sub_orders:
            raise ApiError(
                409,
                f"order {order_id} is {order.status} and has no sub-orders: they exist once the order is priced",
                state=order.status,
            )
        for index, sub in enumerate(order.sub_orders):
            if sub.seller_id == seller_id:
                return order, index
        raise ApiError(404, f"order {order_id} has nothing from seller {seller_id}")


def _now() -> datetime:
    """Now, at the millisecond precision the database keeps: what a response or an event says
    is what a later read returns."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _replace(items: list[SubOrder], index: int, item: SubOrder) -> list[SubOrder]:
    return [item if i == index else existing for i, existing in enumerate(items)]
