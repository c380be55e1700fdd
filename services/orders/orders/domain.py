"""Order lifecycle rules. Pure: no I/O.

    PENDING ──stock reserved──▶ AWAITING_PAYMENT ──payment settled──▶ PAID
       │                              │
       └──stock rejected──▶ REJECTED   └──payment failed / shopper cancels──▶ CANCELLED
    PENDING ──shopper cancels──▶ CANCELLED
"""

import hashlib
import json
from enum import StrEnum
from typing import Any

from beli_contracts.values import PricedLine


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    PAID = "PAID"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.REJECTED, OrderStatus.CANCELLED}),
    OrderStatus.AWAITING_PAYMENT: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

SHOPPER_CANCELLABLE = frozenset({OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT})


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
