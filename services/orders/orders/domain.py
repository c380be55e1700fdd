"""Order lifecycle rules. Pure: no I/O.

    PENDING ──stock reserved──▶ AWAITING_PAYMENT ──payment settled──▶ PAID ──every sub-order completed──▶ COMPLETED
       │                              │
       └──stock rejected──▶ REJECTED   └──payment failed / shopper cancels──▶ CANCELLED
    PENDING ──shopper cancels──▶ CANCELLED
    PAID ──reservation lapsed (paid after the hold ended, units sold meanwhile)──▶ CANCELLED (money returned)

One order (one payment) holds one sub-order per seller, for fulfilment and the seller's statement:

    AWAITING_PAYMENT ──paid──▶ PAID ──seller ships──▶ SHIPPED ──shopper confirms / auto-complete──▶ COMPLETED
          └──order cancelled──▶ CANCELLED

A sub-order for pick-up at an NTT Mart outlet is never shipped by courier:

    PAID ──seller delivers to the outlet──▶ AT_OUTLET ──outlet hands over (right code)──▶ COMPLETED
                                                └──not collected by the deadline, outlet returns it──▶ RETURNED (refunded)
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from beli_contracts.values import PricedLine, SettledLine
from beli_runtime.errors import Refused
from orders.documents import Delivery, SubOrder, SubOrderLine


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    PAID = "PAID"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    # Every part was a pick-up nobody collected: all of it went back to the sellers (refunded).
    RETURNED = "RETURNED"


ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.REJECTED, OrderStatus.CANCELLED}),
    OrderStatus.AWAITING_PAYMENT: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    # PAID -> CANCELLED only when the paid units were sold to someone else after the hold
    # ended (catalog's reservation_lapsed); the money is then returned.
    OrderStatus.PAID: frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.RETURNED}),
    OrderStatus.COMPLETED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.RETURNED: frozenset(),
}

SHOPPER_CANCELLABLE = frozenset({OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT})
# The states an order is cancelled from when it will not be paid (shopper, payment failure, sweeper).
UNPAID = [OrderStatus.PENDING.value, OrderStatus.AWAITING_PAYMENT.value]


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in ALLOWED[current]


def sources_of(target: OrderStatus) -> list[str]:
    """The states from which `target` may be reached: the guard of a conditional update."""
    return [state.value for state, targets in ALLOWED.items() if target in targets]


def order_total(lines: list[PricedLine]) -> int:
    return sum(line.subtotal for line in lines)


def request_fingerprint(body: dict[str, Any]) -> str:
    """Same body, same fingerprint, whatever the key order or spacing of the JSON sent."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- sub-orders: one per seller ---------------------------------------------------------------


class SubOrderStatus(StrEnum):
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    AT_OUTLET = "AT_OUTLET"
    COMPLETED = "COMPLETED"
    RETURNED = "RETURNED"
    CANCELLED = "CANCELLED"


SUB_ALLOWED: dict[SubOrderStatus, frozenset[SubOrderStatus]] = {
    SubOrderStatus.AWAITING_PAYMENT: frozenset({SubOrderStatus.PAID, SubOrderStatus.CANCELLED}),
    SubOrderStatus.PAID: frozenset({SubOrderStatus.SHIPPED, SubOrderStatus.AT_OUTLET}),
    SubOrderStatus.SHIPPED: frozenset({SubOrderStatus.COMPLETED}),
    SubOrderStatus.AT_OUTLET: frozenset({SubOrderStatus.COMPLETED, SubOrderStatus.RETURNED}),
    SubOrderStatus.COMPLETED: frozenset(),
    SubOrderStatus.RETURNED: frozenset(),
    SubOrderStatus.CANCELLED: frozenset(),
}
FINISHED = frozenset({SubOrderStatus.COMPLETED.value, SubOrderStatus.RETURNED.value})


def sub_can_move(current: SubOrderStatus, target: SubOrderStatus) -> bool:
    return target in SUB_ALLOWED[current]


class TransitionRefused(Refused):
    """A sub-order change that its current state does not allow."""

    def __init__(self, message: str) -> None:
        super().__init__(409, message)


def line_key(line: SubOrderLine) -> tuple[str, str | None]:
    return line.product_id, line.variant_id


def group_by_seller(lines: Sequence[PricedLine], status: SubOrderStatus = SubOrderStatus.AWAITING_PAYMENT) -> list[SubOrder]:
    """One sub-order per seller, in the order the sellers first appear among the lines.
    Settled lines carry their levy, and then so do the sub-orders."""
    groups: dict[str, list[PricedLine]] = {}
    for line in lines:
        groups.setdefault(line.seller.seller_id, []).append(line)
    sub_orders = []
    for seller_id, group in groups.items():
        stored = [SubOrderLine.model_validate(line.model_dump(exclude={"seller"}) | {"subtotal": line.subtotal}) for line in group]
        settled = all(isinstance(line, SettledLine) for line in group)
        sub_orders.append(
            SubOrder(
                seller_id=seller_id,
                seller=group[0].seller,
                status=status.value,
                lines=stored,
                gross=sum(line.subtotal for line in stored),
                levy=sum(line.levy or 0 for line in stored) if settled else None,
                seller_payable=sum(line.seller_payable or 0 for line in stored) if settled else None,
                courier=None,
                tracking_number=None,
                shipped_at=None,
                completed_at=None,
                completed_by=None,
            )
        )
    return sub_orders


def settle(sub_orders: list[SubOrder], settled: Sequence[SettledLine]) -> list[SubOrder]:
    """The sub-orders once paid: each line gets its levy and seller payable from the settlement.
    What the payment settled is the truth: if it does not match the priced lines line for line,
    the sub-orders are rebuilt from it."""
    by_key = {(line.product_id, line.variant_id): line for line in settled}
    priced_keys = [line_key(line) for sub in sub_orders for line in sub.lines]
    if sorted(priced_keys, key=str) != sorted(by_key, key=str) or len(priced_keys) != len(settled):
        return group_by_seller(settled, SubOrderStatus.PAID)
    result = []
    for sub in sub_orders:
        lines = []
        for line in sub.lines:
            paid = by_key[line_key(line)]
            lines.append(
                line.model_copy(
                    update={
                        "levy": paid.levy,
                        "seller_payable": paid.seller_payable,
                        "levy_rule_id": paid.levy_rule_id,
                        "levy_rule_version": paid.levy_rule_version,
                    }
                )
            )
        result.append(
            sub.model_copy(
                update={
                    "status": SubOrderStatus.PAID.value,
                    "lines": lines,
                    "levy": sum(line.levy or 0 for line in lines),
                    "seller_payable": sum(line.seller_payable or 0 for line in lines),
                }
            )
        )
    return result


def cancel_all(sub_orders: list[SubOrder]) -> list[SubOrder]:
    return [
        sub.model_copy(update={"status": SubOrderStatus.CANCELLED.value})
        if sub_can_move(SubOrderStatus(sub.status), SubOrderStatus.CANCELLED)
        else sub
        for sub in sub_orders
    ]


def ship(sub: SubOrder, courier: str, tracking_number: str, now: datetime) -> tuple[SubOrder, bool]:
    """(the sub-order after shipping, whether it changed). Shipping again with the same courier and
    tracking number changes nothing; anything else after shipping is refused."""
    current = SubOrderStatus(sub.status)
    if is_pickup(sub):
        raise TransitionRefused(f"is for pick-up at {_outlet_name(sub)}: deliver it to the outlet instead of shipping it")
    if current in (SubOrderStatus.SHIPPED, SubOrderStatus.COMPLETED):
        if (sub.courier, sub.tracking_number) == (courier, tracking_number):
            return sub, False
        raise TransitionRefused(
            f"already {current.value} with {sub.courier} {sub.tracking_number}; the courier and tracking number can no longer change"
        )
    if not sub_can_move(current, SubOrderStatus.SHIPPED):
        raise TransitionRefused(f"is {current.value}; only a PAID sub-order can be shipped")
    changes = {"status": SubOrderStatus.SHIPPED.value, "courier": courier, "tracking_number": tracking_number, "shipped_at": now}
    return sub.model_copy(update=changes), True


def complete(sub: SubOrder, now: datetime, by: str) -> tuple[SubOrder, bool]:
    """(the sub-order after completion, whether it changed). `by` is `shopper`, `auto` or
    `outlet` (handed over at the outlet against the pick-up code: the only way a pick-up
    parcel completes, since the shopper's word alone would leave it on the outlet's shelf)."""
    current = SubOrderStatus(sub.status)
    if current == SubOrderStatus.COMPLETED:
        return sub, False
    if is_pickup(sub) != (by == "outlet"):
        where = "handed over at the outlet with the pick-up code" if is_pickup(sub) else "confirmed by the shopper"
        raise TransitionRefused(f"is {current.value}; it completes only when {where}")
    if not sub_can_move(current, SubOrderStatus.COMPLETED):
        raise TransitionRefused(f"is {current.value}; only a SHIPPED or AT_OUTLET sub-order can be completed")
    return completed(sub, now, by), True


def completed(sub: SubOrder, now: datetime, by: str) -> SubOrder:
    return sub.model_copy(update={"status": SubOrderStatus.COMPLETED.value, "completed_at": now, "completed_by": by})


def due_for_auto_complete(sub_orders: list[SubOrder], shipped_before: datetime) -> list[str]:
    """Sellers whose sub-order has been SHIPPED since before `shipped_before`."""
    return [
        sub.seller_id
        for sub in sub_orders
        if sub.status == SubOrderStatus.SHIPPED.value and sub.shipped_at is not None and sub.shipped_at < shipped_before
    ]


def order_status_after(status: OrderStatus, sub_orders: list[SubOrder]) -> OrderStatus:
    """A PAID order is over when every sub-order is: COMPLETED if anything was received,
    RETURNED if every part went back to its seller uncollected."""
    if not sub_orders or not all(sub.status in FINISHED for sub in sub_orders):
        return status
    received = any(sub.status == SubOrderStatus.COMPLETED.value for sub in sub_orders)
    target = OrderStatus.COMPLETED if received else OrderStatus.RETURNED
    return target if can_move(status, target) else status


def fulfilment_index(sub_orders: list[SubOrder]) -> dict[str, Any]:
    """Denormalised fields the sellers' and outlets' lists and the sweeps query by index:
    `seller_ids`, `seller_states` ("seller:STATUS"), `outlet_ids`, `outlet_states`
    ("outlet:STATUS"), `oldest_shipped_at` (None when nothing is in transit) and
    `next_pickup_reminder_at` (None when no parcel waits for a reminder)."""
    shipped = [sub.shipped_at for sub in sub_orders if sub.status == SubOrderStatus.SHIPPED.value and sub.shipped_at is not None]
    reminders = [sub.remind_at for sub in sub_orders if _reminder_pending(sub) and sub.remind_at is not None]
    outlets = [(outlet, sub.status) for sub in sub_orders if (outlet := outlet_of(sub))]
    return {
        "seller_ids": [sub.seller_id for sub in sub_orders],
        "seller_states": [seller_state(sub.seller_id, sub.status) for sub in sub_orders],
        "outlet_ids": sorted({outlet for outlet, _ in outlets}),
        "outlet_states": sorted({seller_state(outlet, status) for outlet, status in outlets}),
        "oldest_shipped_at": min(shipped) if shipped else None,
        "next_pickup_reminder_at": min(reminders) if reminders else None,
    }


def seller_state(seller_id: str, status: str) -> str:
    """Also an outlet's ("ntt-mart-belu:AT_OUTLET"): ids never contain a colon."""
    return f"{seller_id}:{status}"


def listing_key(created_at: datetime, order_id: str) -> str:
    """Sort key of the sellers' lists, newest first: creation time, then id for ties."""
    return f"{created_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}|{order_id}"


# --- pick-up at an NTT Mart outlet ------------------------------------------------------------

COURIER = Delivery(method="courier")
# No 0/O, 1/I/L: read aloud or copied from a phone screen at a shop counter, nothing is ambiguous.
PICKUP_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PICKUP_CODE_LENGTH = 6


def new_pickup_code() -> str:
    """31^6 ≈ 887 million codes drawn by the OS's CSPRNG: guessing one is hopeless within the
    hand-over's throttling."""
    return "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(PICKUP_CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What staff type: any case, with spaces or dashes the shopper's screen may show."""
    return "".join(ch for ch in text.upper() if ch not in " -")


def code_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(normalise_code(given).encode(), expected.encode())


def lock_seconds(failures: int, free: int, base: float, ceiling: float) -> float:
    """How long the hand-over of an order stays locked after `failures` wrong codes in a row:
    nothing for the first `free` (typos), then `base` doubling up to `ceiling`."""
    if failures < free:
        return 0.0
    return float(min(ceiling, base * 2 ** (failures - free)))


def with_deliveries(sub_orders: list[SubOrder], deliveries: dict[str, Delivery]) -> list[SubOrder]:
    """Each sub-order with the delivery its shopper chose at checkout (courier by default)."""
    return [sub if sub.delivery else sub.model_copy(update={"delivery": deliveries.get(sub.seller_id, COURIER)}) for sub in sub_orders]


def is_pickup(sub: SubOrder) -> bool:
    return (sub.delivery or COURIER).method == "pickup"


def outlet_of(sub: SubOrder) -> str | None:
    return sub.delivery.outlet.outlet_id if is_pickup(sub) and sub.delivery and sub.delivery.outlet else None


def _outlet_name(sub: SubOrder) -> str:
    return sub.delivery.outlet.name if sub.delivery and sub.delivery.outlet else ""


def deliver_to_outlet(sub: SubOrder, now: datetime, collect_days: float, remind_days: float) -> tuple[SubOrder, bool]:
    """(the sub-order once the seller left it at the outlet, whether it changed). The shopper has
    `collect_days` to collect it and is reminded `remind_days` before that deadline."""
    current = SubOrderStatus(sub.status)
    if not is_pickup(sub):
        raise TransitionRefused("is for courier delivery: ship it instead")
    if current in (SubOrderStatus.AT_OUTLET, *map(SubOrderStatus, FINISHED)):
        return sub, False  # the seller pressed twice
    if not sub_can_move(current, SubOrderStatus.AT_OUTLET):
        raise TransitionRefused(f"is {current.value}; only a PAID sub-order can be delivered to the outlet")
    collect_before = now + timedelta(days=collect_days)
    remind_at = max(now, collect_before - timedelta(days=remind_days))
    changes = {"status": SubOrderStatus.AT_OUTLET.value, "at_outlet_at": now, "collect_before": collect_before}
    return sub.model_copy(update=changes | {"remind_at": remind_at, "reminded_at": None}), True


def waiting_at(sub_orders: list[SubOrder], outlet_id: str) -> list[int]:
    """Positions of the sub-orders waiting at the outlet for the shopper."""
    return [i for i, sub in enumerate(sub_orders) if outlet_of(sub) == outlet_id and sub.status == SubOrderStatus.AT_OUTLET.value]


def uncollected_at(sub_orders: list[SubOrder], outlet_id: str, now: datetime) -> list[int]:
    """Positions of the parcels at the outlet whose collection deadline has passed."""
    return [i for i in waiting_at(sub_orders, outlet_id) if (deadline := sub_orders[i].collect_before) is not None and deadline <= now]


def return_uncollected(sub: SubOrder, now: datetime) -> SubOrder:
    return sub.model_copy(update={"status": SubOrderStatus.RETURNED.value, "returned_at": now})


def _reminder_pending(sub: SubOrder) -> bool:
    return sub.status == SubOrderStatus.AT_OUTLET.value and sub.remind_at is not None and sub.reminded_at is None


def due_for_pickup_reminder(sub_orders: list[SubOrder], now: datetime) -> list[int]:
    return [i for i, sub in enumerate(sub_orders) if _reminder_pending(sub) and sub.remind_at is not None and sub.remind_at <= now]
