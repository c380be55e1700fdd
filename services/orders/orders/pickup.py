"""Pick-up at an NTT Mart outlet: the seller delivers a sub-order to the outlet the shopper chose,
the outlet hands it over against the order's pick-up code (completing it exactly as a confirmed
receipt), or returns it once nobody collected it in time (payments then refunds it). Each change
and its events are written in one transaction (outbox)."""

from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from beli_contracts.orders import PickupCollected, PickupReminderDue, SubOrderAtOutlet, SubOrderReturned
from beli_contracts.values import PickupOutlet, ReturnedLine
from beli_runtime.http import ApiError
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Database, Session, ensure_index
from beli_runtime.outbox import Outbox
from orders.documents import Delivery, OrderDocument, SubOrder
from orders.domain import (
    OrderStatus,
    SubOrderStatus,
    TransitionRefused,
    code_matches,
    complete,
    deliver_to_outlet,
    due_for_pickup_reminder,
    lock_seconds,
    new_pickup_code,
    order_status_after,
    outlet_of,
    return_uncollected,
    uncollected_at,
    waiting_at,
)
from orders.fulfilment import Fulfilment, _now
from orders.outlets import FIELDS, OutletDirectory
from orders.settings import OrdersSettings
from orders.store import OrdersStore

log = get_logger(__name__)


class PickupCodes:
    """Every code ever issued, one document each: a code is never given to two orders."""

    def __init__(self, db: Database) -> None:
        self.codes = db["pickup_codes"]

    async def ensure_indexes(self) -> None:
        await ensure_index(self.codes, "order_id")

    async def issue(self, order_id: str) -> str:
        # Taken before the order's transaction: a clash (one in ~10^8 per code in use) is retried
        # here and never aborts a checkout; a code kept by an order that then failed is wasted.
        for _ in range(10):
            code = new_pickup_code()
            try:
                await self.codes.insert_one({"_id": code, "order_id": order_id})
                return code
            except DuplicateKeyError:
                continue
        raise ApiError(503, "kode pengambilan tidak dapat dibuat sekarang; coba lagi")


class Pickup:
    """Uses Fulfilment's own steps (find the sub-order, save guarded by the fulfilment version,
    complete with `orders.order_completed`), so that a hand-over is a confirmed receipt."""

    def __init__(
        self, store: OrdersStore, outbox: Outbox, fulfilment: Fulfilment, outlets: OutletDirectory, settings: OrdersSettings
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.fulfilment = fulfilment
        self.outlets = outlets
        self.settings = settings

    async def deliver(self, session: Session, order_id: str, seller_id: str) -> OrderDocument:
        """The seller left its part at the outlet: the shopper is told it is ready, with the code."""
        order, index = await self.fulfilment._sub_order(session, order_id, seller_id)
        now = _now()
        settings = self.settings
        try:
            sub, changed = deliver_to_outlet(order.sub_orders[index], now, settings.pickup_collect_days, settings.pickup_reminder_days)
        except TransitionRefused as refused:
            raise ApiError(
                409, f"sub-order of seller {seller_id} in order {order_id} {refused}", state=order.sub_orders[index].status
            ) from None
        if not changed:
            return order
        # The outlet as it is now (hours may have changed since checkout), for the shopper's message.
        outlet = await self._current(_outlet(sub), session)
        sub = sub.model_copy(update={"delivery": _delivery(sub).model_copy(update={"outlet": outlet})})
        sub_orders = [sub if i == index else other for i, other in enumerate(order.sub_orders)]
        await self.fulfilment._save(session, order, sub_orders)
        event = SubOrderAtOutlet(
            order_id=order_id,
            seller_id=seller_id,
            seller_name=sub.seller.name,
            customer=order.customer,
            outlet=outlet,
            pickup_code=_pickup_code(order),
            arrived_at=now,
            collect_before=sub.collect_before,
        )
        await self.outbox.add(session, event, key=order_id, correlation_id=order_id)
        return order.model_copy(update={"sub_orders": sub_orders})

    async def check_code(self, order: OrderDocument, outlet_id: str, code: str) -> None:
        """Refuses a wrong code (422) and counts it; past the free tries the order's hand-over is
        locked for a while (429) whatever code is sent, so guessing cannot be automated."""
        now = _now()
        locked_until = order.pickup_throttle.locked_until if order.pickup_throttle else None
        if locked_until is not None and locked_until > now:
            raise _locked(locked_until, now)
        if code_matches(code, _pickup_code(order)):
            return
        settings = self.settings
        counted = await self.store.orders.find_one_and_update(
            {"_id": order.id},
            {"$inc": {"pickup_throttle.failures": 1}},
            projection={"pickup_throttle": 1},
            return_document=ReturnDocument.AFTER,
        )
        failures = counted["pickup_throttle"]["failures"] if counted else 1
        lock = lock_seconds(
            failures, settings.pickup_code_free_failures, settings.pickup_code_lock_seconds, settings.pickup_code_lock_max_seconds
        )
        if lock:
            until = now + timedelta(seconds=lock)
            await self.store.orders.update_one({"_id": order.id}, {"$max": {"pickup_throttle.locked_until": until}})
        log.warning("orders.pickup_code_refused", order_id=order.id, outlet_id=outlet_id, failures=failures)
        raise ApiError(422, "kode pengambilan salah: periksa kode di halaman pesanan pembeli", field="code")

    async def hand_over(self, session: Session, order_id: str, outlet_id: str) -> OrderDocument:
        """Every parcel of the order waiting at the outlet goes to the shopper (the code was checked)."""
        order = await self.at_outlet(order_id, outlet_id, session)
        waiting = waiting_at(order.sub_orders, outlet_id)
        if not waiting:
            if _any_at(order, outlet_id, SubOrderStatus.COMPLETED):
                return order  # handed over already: a second press changes nothing
            raise ApiError(409, f"tidak ada paket pesanan {order_id} yang menunggu di outlet ini", state=order.status)
        now = _now()
        changed = {i: complete(order.sub_orders[i], now, "outlet")[0] for i in waiting}
        done = await self.fulfilment._complete(session, order, changed)
        await self.store.orders.update_one({"_id": order_id}, {"$unset": {"pickup_throttle": ""}}, session=session)
        event = PickupCollected(
            order_id=order_id,
            customer=order.customer,
            outlet=_outlet(order.sub_orders[waiting[0]]),
            seller_names=[sub.seller.name for sub in changed.values()],
            collected_at=now,
        )
        await self.outbox.add(session, event, key=order_id, correlation_id=order_id)
        return done

    async def return_uncollected(self, session: Session, order_id: str, outlet_id: str) -> OrderDocument:
        """Parcels past their collection deadline go back to their sellers; payments refunds them."""
        order = await self.at_outlet(order_id, outlet_id, session)
        now = _now()
        due = uncollected_at(order.sub_orders, outlet_id, now)
        if not due:
            waiting = [order.sub_orders[i] for i in waiting_at(order.sub_orders, outlet_id)]
            if not waiting and _any_at(order, outlet_id, SubOrderStatus.RETURNED):
                return order  # returned already
            deadline = min((sub.collect_before for sub in waiting if sub.collect_before is not None), default=None)
            detail = f"batas pengambilan belum lewat ({deadline.isoformat()})" if deadline else "tidak ada paket yang menunggu"
            raise ApiError(409, f"pesanan {order_id} belum dapat dikembalikan: {detail}", state=order.status)
        changed = {i: return_uncollected(order.sub_orders[i], now) for i in due}
        sub_orders = [changed.get(i, sub) for i, sub in enumerate(order.sub_orders)]
        status = order_status_after(OrderStatus(order.status), sub_orders)
        extra = {f"{status.value.lower()}_at": now} if status.value != order.status else None
        await self.fulfilment._save(session, order, sub_orders, status, extra)
        for sub in changed.values():
            await self.outbox.add(session, _returned_event(order, sub, now), key=order_id, correlation_id=order_id)
        log.info("orders.pickup_returned", order_id=order_id, outlet_id=outlet_id, sellers=[sub.seller_id for sub in changed.values()])
        return order.model_copy(update={"sub_orders": sub_orders, "status": status.value} | (extra or {}))

    async def remind(self, session: Session, order_id: str) -> int:
        """Remind the shopper of each parcel whose collection deadline is near (once per parcel)."""
        order = await self.store.get(order_id, session)
        if order is None:
            return 0
        now = _now()
        due = due_for_pickup_reminder(order.sub_orders, now)
        if not due:
            return 0
        sub_orders = [sub.model_copy(update={"reminded_at": now}) if i in due else sub for i, sub in enumerate(order.sub_orders)]
        await self.fulfilment._save(session, order, sub_orders)
        for i in due:
            sub = sub_orders[i]
            event = PickupReminderDue(
                order_id=order_id,
                seller_id=sub.seller_id,
                seller_name=sub.seller.name,
                customer=order.customer,
                outlet=_outlet(sub),
                pickup_code=_pickup_code(order),
                collect_before=sub.collect_before,
            )
            await self.outbox.add(session, event, key=order_id, correlation_id=order_id)
        return len(due)

    async def at_outlet(self, order_id: str, outlet_id: str, session: Session | None = None) -> OrderDocument:
        """The order, if any part of it is for pick-up at this outlet; 404 otherwise (another
        outlet's staff learn nothing of it)."""
        order = await self.store.get(order_id, session)
        if order is None or not any(outlet_of(sub) == outlet_id for sub in order.sub_orders):
            raise ApiError(404, f"order {order_id} not found at outlet {outlet_id}")
        return order

    async def _current(self, snapshot: PickupOutlet, session: Session) -> PickupOutlet:
        outlet = await self.outlets.get(snapshot.outlet_id, session)
        return PickupOutlet(**{key: outlet[key] for key in FIELDS}) if outlet else snapshot


def _any_at(order: OrderDocument, outlet_id: str, status: SubOrderStatus) -> bool:
    return any(outlet_of(sub) == outlet_id and sub.status == status.value for sub in order.sub_orders)


def _delivery(sub: SubOrder) -> Delivery:
    """The delivery of a pick-up sub-order (only those reach the outlet's steps)."""
    assert sub.delivery is not None and sub.delivery.outlet is not None, "not a pick-up sub-order"
    return sub.delivery


def _outlet(sub: SubOrder) -> PickupOutlet:
    outlet = _delivery(sub).outlet
    assert outlet is not None
    return outlet


def _pickup_code(order: OrderDocument) -> str:
    assert order.pickup_code is not None, "an order with a pick-up has its code from checkout"
    return order.pickup_code


def _locked(until: datetime, now: datetime) -> ApiError:
    seconds = max(1, int((until - now).total_seconds() + 0.999))
    return ApiError(
        429,
        f"terlalu banyak kode salah untuk pesanan ini; coba lagi dalam {seconds} detik",
        field="code",
        headers={"Retry-After": str(seconds)},
    )


def _returned_event(order: OrderDocument, sub: SubOrder, now: datetime) -> SubOrderReturned:
    return SubOrderReturned(
        order_id=order.id,
        seller=sub.seller,
        customer=order.customer,
        outlet=_outlet(sub),
        lines=[ReturnedLine(product_id=line.product_id, variant_id=line.variant_id, quantity=line.quantity) for line in sub.lines],
        gross=sub.gross,
        returned_at=now,
    )
