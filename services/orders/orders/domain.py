"""Order lifecycle rules. Pure: no I/O.

    PENDING ──stock reserved──▶ AWAITING_PAYMENT ──payment settled──▶ PAID ──every sub-order completed──▶ COMPLETED
       │                              │
       └──stock rejected──▶ REJECTED   └──payment failed / shopper cancels──▶ CANCELLED
    PENDING ──shopper cancels──▶ CANCELLED
    PAID ──reservation lapsed (paid after the hold ended, units sold meanwhile)──▶ CANCELLED (money returned)

One order (one payment) holds one sub-order per seller, for fulfilment and the seller's statement:

    AWAITING_PAYMENT ──paid──▶ PAID ──seller ships──▶ SHIPPED ──shopper confirms / auto-complete──▶ COMPLETED
          └──order cancelled──▶ CANCELLED
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from beli_contracts.values import PricedLine, SettledLine
from beli_runtime.errors import Refused


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    PAID = "PAID"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.REJECTED, OrderStatus.CANCELLED}),
    OrderStatus.AWAITING_PAYMENT: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    # PAID -> CANCELLED only when the paid units were sold to someone else after the hold
    # ended (catalog's reservation_lapsed); the money is then returned.
    OrderStatus.PAID: frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED}),
    OrderStatus.COMPLETED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
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
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


SUB_ALLOWED: dict[SubOrderStatus, frozenset[SubOrderStatus]] = {
    SubOrderStatus.AWAITING_PAYMENT: frozenset({SubOrderStatus.PAID, SubOrderStatus.CANCELLED}),
    SubOrderStatus.PAID: frozenset({SubOrderStatus.SHIPPED}),
    SubOrderStatus.SHIPPED: frozenset({SubOrderStatus.COMPLETED}),
    SubOrderStatus.COMPLETED: frozenset(),
    SubOrderStatus.CANCELLED: frozenset(),
}


def sub_can_move(current: SubOrderStatus, target: SubOrderStatus) -> bool:
    return target in SUB_ALLOWED[current]


class TransitionRefused(Refused):
    """A sub-order change that its current state does not allow."""

    def __init__(self, message: str) -> None:
        super().__init__(409, message)


def line_key(line: dict[str, Any]) -> tuple[str, str | None]:
    return line["product_id"], line.get("variant_id")


def group_by_seller(lines: Sequence[PricedLine], status: SubOrderStatus = SubOrderStatus.AWAITING_PAYMENT) -> list[dict[str, Any]]:
    """One sub-order per seller, in the order the sellers first appear among the lines.
    Settled lines carry their levy, and then so do the sub-orders."""
    groups: dict[str, list[PricedLine]] = {}
    for line in lines:
        groups.setdefault(line.seller.seller_id, []).append(line)
    sub_orders = []
    for seller_id, group in groups.items():
        stored = [line.model_dump(exclude={"seller"}) | {"subtotal": line.subtotal} for line in group]
        settled = all(isinstance(line, SettledLine) for line in group)
        sub_orders.append(
            {
                "seller_id": seller_id,
                "seller": group[0].seller.model_dump(),
                "status": status.value,
                "lines": stored,
                "gross": sum(line["subtotal"] for line in stored),
                "levy": sum(line["levy"] for line in stored) if settled else None,
                "seller_payable": sum(line["seller_payable"] for line in stored) if settled else None,
                "courier": None,
                "tracking_number": None,
                "shipped_at": None,
                "completed_at": None,
                "completed_by": None,
            }
        )
    return sub_orders


def settle(sub_orders: list[dict[str, Any]], settled: Sequence[SettledLine]) -> list[dict[str, Any]]:
    """The sub-orders once paid: each line gets its levy and seller payable from the settlement.
    What the payment settled is the truth: if it does not match the priced lines line for line,
    the sub-orders are rebuilt from it."""
    by_key = {(line.product_id, line.variant_id): line for line in settled}
    priced_keys = [line_key(line) for sub in sub_orders for line in sub["lines"]]
    if sorted(priced_keys, key=str) != sorted(by_key, key=str) or len(priced_keys) != len(settled):
        return group_by_seller(settled, SubOrderStatus.PAID)
    result = []
    for sub in sub_orders:
        lines = []
        for line in sub["lines"]:
            paid = by_key[line_key(line)]
            lines.append(
                line
                | {
                    "levy": paid.levy,
                    "seller_payable": paid.seller_payable,
                    "levy_rule_id": paid.levy_rule_id,
                    "levy_rule_version": paid.levy_rule_version,
                }
            )
        result.append(
            sub
            | {
                "status": SubOrderStatus.PAID.value,
                "lines": lines,
                "levy": sum(line["levy"] for line in lines),
                "seller_payable": sum(line["seller_payable"] for line in lines),
            }
        )
    return result


def cancel_all(sub_orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        sub | {"status": SubOrderStatus.CANCELLED.value} if sub_can_move(SubOrderStatus(sub["status"]), SubOrderStatus.CANCELLED) else sub
        for sub in sub_orders
    ]


def ship(sub: dict[str, Any], courier: str, tracking_number: str, now: datetime) -> tuple[dict[str, Any], bool]:
    """(the sub-order after shipping, whether it changed). Shipping again with the same courier and
    tracking number changes nothing; anything else after shipping is refused."""
    current = SubOrderStatus(sub["status"])
    if current in (SubOrderStatus.SHIPPED, SubOrderStatus.COMPLETED):
        if (sub["courier"], sub["tracking_number"]) == (courier, tracking_number):
            return sub, False
        raise TransitionRefused(
            f"already {current.value} with {sub['courier']} {sub['tracking_number']}; the courier and tracking number can no longer change"
        )
    if not sub_can_move(current, SubOrderStatus.SHIPPED):
        raise TransitionRefused(f"is {current.value}; only a PAID sub-order can be shipped")
    return sub | {"status": SubOrderStatus.SHIPPED.value, "courier": courier, "tracking_number": tracking_number, "shipped_at": now}, True


def complete(sub: dict[str, Any], now: datetime, by: str) -> tuple[dict[str, Any], bool]:
    """(the sub-order after completion, whether it changed). `by` is `shopper` or `auto`."""
    current = SubOrderStatus(sub["status"])
    if current == SubOrderStatus.COMPLETED:
        return sub, False
    if not sub_can_move(current, SubOrderStatus.COMPLETED):
        raise TransitionRefused(f"is {current.value}; only a SHIPPED sub-order can be completed")
    return sub | {"status": SubOrderStatus.COMPLETED.value, "completed_at": now, "completed_by": by}, True


def due_for_auto_complete(sub_orders: list[dict[str, Any]], shipped_before: datetime) -> list[str]:
    """Sellers whose sub-order has been SHIPPED since before `shipped_before`."""
    return [sub["seller_id"] for sub in sub_orders if sub["status"] == SubOrderStatus.SHIPPED.value and sub["shipped_at"] < shipped_before]


def order_status_after(status: OrderStatus, sub_orders: list[dict[str, Any]]) -> OrderStatus:
    """A PAID order becomes COMPLETED when every sub-order is completed."""
    if (
        sub_orders
        and all(sub["status"] == SubOrderStatus.COMPLETED.value for sub in sub_orders)
        and can_move(status, OrderStatus.COMPLETED)
    ):
        return OrderStatus.COMPLETED
    return status


def fulfilment_index(sub_orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Denormalised fields the sellers' lists and the auto-complete sweep query by index:
    `seller_ids`, `seller_states` ("seller:STATUS") and `oldest_shipped_at` (None when nothing
    is in transit)."""
    shipped = [sub["shipped_at"] for sub in sub_orders if sub["status"] == SubOrderStatus.SHIPPED.value]
    return {
        "seller_ids": [sub["seller_id"] for sub in sub_orders],
        "seller_states": [seller_state(sub["seller_id"], sub["status"]) for sub in sub_orders],
        "oldest_shipped_at": min(shipped) if shipped else None,
    }


def seller_state(seller_id: str, status: str) -> str:
    return f"{seller_id}:{status}"


def listing_key(created_at: datetime, order_id: str) -> str:
    """Sort key of the sellers' lists, newest first: creation time, then id for ties."""
    return f"{created_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}|{order_id}"
