"""What to tell whom, rendered from editable Jinja2 templates (Bahasa Indonesia). No I/O
besides reading the template files."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from beli_contracts.orders import OrderCancelled
from beli_contracts.payments import PaymentSettled
from beli_contracts.values import SettledLine
from beli_runtime.clock import format_rupiah, format_wita

TEMPLATES = Path(__file__).parent / "templates"

_environment = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=False,
                           trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
_environment.filters["rupiah"] = format_rupiah
_environment.filters["wita"] = format_wita

CANCEL_REASONS = {
    "shopper_cancelled": "dibatalkan atas permintaan Anda",
    "payment_failed": "pembayaran gagal atau ditolak",
    "payment_expired": "batas waktu pembayaran terlewati",
    "payment_setup_failed": "pembayaran tidak dapat dibuat",
}


@dataclass(frozen=True)
class Message:
    kind: str
    order_id: str
    email: str
    phone: str
    subject: str
    text: str


def render(kind: str, recipient_email: str, recipient_phone: str, order_id: str, **context: Any) -> Message:
    subject = _environment.get_template(f"{kind}.subject.j2").render(order_id=order_id, **context).strip()
    text = _environment.get_template(f"{kind}.email.txt.j2").render(order_id=order_id, **context)
    return Message(kind=kind, order_id=order_id, email=recipient_email, phone=recipient_phone, subject=subject, text=text)


def for_settlement(event: PaymentSettled) -> list[Message]:
    """A receipt for the shopper, and for each seller a 'new paid order' with only their lines."""
    messages = [render("payment_receipt", event.customer.email, event.customer.phone, event.order_id,
                       customer=event.customer, lines=event.lines, gross=event.gross_amount, levy=event.levy_total,
                       paid_at=event.settled_at, payment_type=event.payment_type)]
    by_seller: dict[str, list[SettledLine]] = {}
    for line in event.lines:
        by_seller.setdefault(line.seller.seller_id, []).append(line)
    for lines in by_seller.values():
        seller = lines[0].seller
        messages.append(render("seller_new_paid_order", seller.email, seller.phone, event.order_id,
                               seller=seller, customer=event.customer, lines=lines,
                               gross=sum(line.subtotal for line in lines), levy=sum(line.levy for line in lines),
                               payable=sum(line.seller_payable for line in lines), paid_at=event.settled_at))
    return messages


def for_cancellation(event: OrderCancelled) -> list[Message]:
    reason = CANCEL_REASONS.get(event.reason, event.reason)
    return [render("order_cancelled", event.customer.email, event.customer.phone, event.order_id,
                   customer=event.customer, reason=reason)]
