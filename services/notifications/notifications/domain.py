"""What to tell whom, for each event. No I/O: rendering is in `rendering.py`.

A `Notice` is one message for one person (the in-app inbox always keeps it); preferences then
choose on which external channels (e-mail, WhatsApp, SMS) it also goes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from beli_contracts.catalog import StockLow
from beli_contracts.orders import (
    OrderCancelled,
    OrderCompleted,
    OrderPaid,
    OrderShipped,
    PickupCollected,
    PickupReminderDue,
    SubOrderAtOutlet,
    SubOrderReturned,
)
from beli_contracts.payments import LevyRuleChanged, PaymentLinkCreated, PaymentReturned, PaymentSettled
from beli_contracts.programme import AsnContact, CommitmentMet, CommitmentReminderDue
from beli_contracts.values import SettledLine

Channel = Literal["email", "whatsapp", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "whatsapp", "sms")
PHONE_CHANNELS: tuple[Channel, ...] = ("whatsapp", "sms")


@dataclass(frozen=True)
class Kind:
    name: str
    audience: Literal["shopper", "seller", "finance"]
    # Receipts and order changes the person must get: preferences may move them between
    # channels but never switch them off everywhere.
    transactional: bool
    default_channels: tuple[Channel, ...]
    description: str


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("payment_link", "shopper", True, ("email", "whatsapp"), "Pesanan dibuat, tautan pembayaran siap"),
        Kind("payment_receipt", "shopper", True, ("email",), "Bukti pembayaran"),
        Kind("order_cancelled", "shopper", True, ("email", "whatsapp"), "Pesanan dibatalkan / pembayaran gagal"),
        Kind("payment_returned", "shopper", True, ("email", "whatsapp"), "Pembayaran terlambat dikembalikan"),
        Kind("order_shipped", "shopper", True, ("email", "whatsapp"), "Pesanan dikirim"),
        Kind("pickup_ready", "shopper", True, ("email", "whatsapp"), "Pesanan siap diambil di NTT Mart (dengan kode pengambilan)"),
        Kind("pickup_reminder", "shopper", True, ("email", "whatsapp"), "Pengingat: batas waktu pengambilan di NTT Mart"),
        Kind("pickup_collected", "shopper", True, ("email",), "Pesanan sudah diambil di NTT Mart"),
        Kind(
            "pickup_returned", "shopper", True, ("email", "whatsapp"), "Pesanan tidak diambil: dikembalikan ke penjual, dana dikembalikan"
        ),
        Kind("seller_new_paid_order", "seller", True, ("email", "whatsapp"), "Pesanan baru sudah dibayar"),
        Kind("seller_order_cancelled", "seller", True, ("email", "whatsapp"), "Pesanan yang sudah dibayar dibatalkan: jangan dikirim"),
        Kind("seller_payout", "seller", True, ("email",), "Pesanan selesai: rincian pembayaran ke penjual"),
        Kind("stock_low", "seller", False, ("email", "whatsapp"), "Stok menipis"),
        Kind("levy_rule_changed", "finance", False, ("email",), "Aturan kontribusi PAD berubah"),
        Kind("asn_commitment_reminder", "shopper", False, ("email",), "Pengingat komitmen belanja ASN bulan ini"),
        Kind("asn_commitment_met", "shopper", False, ("email",), "Komitmen belanja ASN bulan ini terpenuhi"),
    )
}

CANCEL_REASONS = {
    "shopper_cancelled": "dibatalkan atas permintaan Anda",
    "payment_failed": "pembayaran gagal atau ditolak",
    "payment_expired": "batas waktu pembayaran terlewati",
    "payment_setup_failed": "pembayaran tidak dapat dibuat",
    "checkout_timeout": "pesanan tidak dapat diproses tepat waktu",
    "stock_unavailable": "stok sudah terjual sebelum pembayaran Anda kami terima",
}


@dataclass(frozen=True)
class Notice:
    """One message for one person. `recipient` is the person's key: the lower-case e-mail
    address until accounts exist (issue #4)."""

    kind: str
    recipient: str
    email: str | None
    phone: str | None
    order_id: str | None
    context: dict[str, Any] = field(default_factory=dict)
    # Only addresses the person proved with a code get messages (and an inbox): a typed-in
    # address may belong to someone else.
    email_verified: bool = False
    phone_verified: bool = False


def _key(email: str) -> str:
    return email.strip().lower()


class Contact(Protocol):
    """A shopper or a seller as events carry them: where to write, and what they proved."""

    @property
    def email(self) -> str: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email_verified(self) -> bool: ...
    @property
    def phone_verified(self) -> bool: ...


def _to(kind: str, person: Contact, order_id: str | None, context: dict[str, Any]) -> Notice:
    """One notice for a shopper or a seller, reaching only the addresses they proved."""
    return Notice(
        kind,
        _key(person.email),
        person.email,
        person.phone,
        order_id,
        context,
        email_verified=person.email_verified,
        phone_verified=person.phone_verified,
    )


def for_payment_link(event: PaymentLinkCreated) -> list[Notice]:
    customer = event.customer
    context = {
        "customer": customer,
        "lines": event.lines,
        "gross": event.gross_amount,
        "pay_url": event.redirect_url,
        "pay_before": event.pay_before,
    }
    return [_to("payment_link", customer, event.order_id, context)]


def for_settlement(event: OrderPaid | PaymentSettled) -> list[Notice]:
    """A receipt for the shopper, and for each seller a 'new paid order' with only their lines."""
    if not event.lines or event.settled_at is None:
        return []  # an order_paid written before it carried the settlement: nothing to render
    customer = event.customer
    receipt = {
        "customer": customer,
        "lines": event.lines,
        "gross": event.gross_amount,
        "levy": event.levy_total,
        "paid_at": event.settled_at,
        "payment_type": event.payment_type,
    }
    notices = [_to("payment_receipt", customer, event.order_id, receipt)]
    by_seller: dict[str, list[SettledLine]] = {}
    for line in event.lines:
        by_seller.setdefault(line.seller.seller_id, []).append(line)
    for lines in by_seller.values():
        seller = lines[0].seller
        paid_order = {
            "seller": seller,
            "customer": customer,
            "lines": lines,
            "gross": sum(line.subtotal for line in lines),
            "levy": sum(line.levy for line in lines),
            "payable": sum(line.seller_payable for line in lines),
            "paid_at": event.settled_at,
        }
        notices.append(_to("seller_new_paid_order", seller, event.order_id, paid_order))
    return notices


def for_cancellation(event: OrderCancelled) -> list[Notice]:
    """The shopper is told why; sellers that were already asked to ship are told not to."""
    reason = CANCEL_REASONS.get(event.reason, event.reason.replace("_", " "))
    notices = [
        _to("order_cancelled", event.customer, event.order_id, {"customer": event.customer, "reason_code": event.reason, "reason": reason})
    ]
    for seller in {seller.seller_id: seller for seller in event.sellers}.values():
        notices.append(_to("seller_order_cancelled", seller, event.order_id, {"seller": seller, "reason_code": event.reason}))
    return notices


def for_return(event: PaymentReturned) -> list[Notice]:
    context = {"customer": event.customer, "gross": event.gross_amount, "returned_at": event.returned_at}
    return [_to("payment_returned", event.customer, event.order_id, context)]


def for_shipment(event: OrderShipped) -> list[Notice]:
    """One notice per seller's parcel; it names the shop (None in events from before the field
    existed: the wording then leaves it out), so a many-seller order's notices can be told apart."""
    context = {
        "customer": event.customer,
        "seller_name": event.seller_name,
        "courier": event.courier,
        "tracking_number": event.tracking_number,
        "shipped_at": event.shipped_at,
    }
    return [_to("order_shipped", event.customer, event.order_id, context)]


def for_completion(event: OrderCompleted) -> list[Notice]:
    seller = event.seller
    context = {
        "seller": seller,
        "gross": event.gross,
        "levy": event.levy,
        "payable": event.seller_payable,
        "completed_at": event.completed_at,
    }
    return [_to("seller_payout", seller, event.order_id, context)]


def for_pickup_ready(event: SubOrderAtOutlet) -> list[Notice]:
    """The code is in the shopper's own message: they show it at the outlet to collect."""
    context = {
        "customer": event.customer,
        "seller_name": event.seller_name,
        "outlet": event.outlet,
        "code": event.pickup_code,
        "arrived_at": event.arrived_at,
        "collect_before": event.collect_before,
    }
    return [_to("pickup_ready", event.customer, event.order_id, context)]


def for_pickup_reminder(event: PickupReminderDue) -> list[Notice]:
    context = {
        "customer": event.customer,
        "seller_name": event.seller_name,
        "outlet": event.outlet,
        "code": event.pickup_code,
        "collect_before": event.collect_before,
    }
    return [_to("pickup_reminder", event.customer, event.order_id, context)]


def for_pickup_collected(event: PickupCollected) -> list[Notice]:
    context = {"customer": event.customer, "outlet": event.outlet, "seller_names": event.seller_names, "collected_at": event.collected_at}
    return [_to("pickup_collected", event.customer, event.order_id, context)]


def for_pickup_returned(event: SubOrderReturned) -> list[Notice]:
    context = {
        "customer": event.customer,
        "seller_name": event.seller.name,
        "outlet": event.outlet,
        "gross": event.gross,
        "returned_at": event.returned_at,
    }
    return [_to("pickup_returned", event.customer, event.order_id, context)]


def for_stock_low(event: StockLow) -> list[Notice]:
    seller = event.seller
    context = {
        "seller": seller,
        "product_id": event.product_id,
        "product_name": event.product_name,
        "variant_id": event.variant_id,
        "stock": event.stock,
        "threshold": event.threshold,
    }
    return [_to("stock_low", seller, None, context)]


def for_levy_rule_change(event: LevyRuleChanged, finance_emails: list[str]) -> list[Notice]:
    """`finance_emails`: FINANCE_EMAILS already narrowed to staff accounts (verified by an admin)."""
    unique = dict.fromkeys(_key(email) for email in finance_emails if email.strip())
    return [
        Notice(
            "levy_rule_changed",
            email,
            email,
            None,
            None,
            {"current": event.current, "previous": event.previous, "reason": event.reason, "changed_by": event.changed_by},
            email_verified=True,
        )
        for email in unique
    ]


def _asn_notice(kind: str, asn: AsnContact, context: dict[str, Any]) -> list[Notice]:
    recipient = _key(asn.email) if asn.email else (asn.phone or "")
    if not recipient:
        return []
    # ASN contacts are the province's own records: the roster an OPD officer (staff) uploaded, or
    # the linked account's address, which sign-up verified. They count as vouched for.
    return [Notice(kind, recipient, asn.email, asn.phone, None, {"asn": asn, **context}, email_verified=True, phone_verified=True)]


def for_commitment_reminder(event: CommitmentReminderDue) -> list[Notice]:
    """Gerakan Beli NTT: the ASN is below the month's commitment on the reminder day."""
    context = {"month": event.month, "commitment": event.commitment, "spent": event.spent, "remaining": event.remaining}
    return _asn_notice("asn_commitment_reminder", event.asn, context | {"days_left": event.days_left})


def for_commitment_met(event: CommitmentMet) -> list[Notice]:
    return _asn_notice("asn_commitment_met", event.asn, {"month": event.month, "commitment": event.commitment, "spent": event.spent})


def month_name(month: str) -> str:
    """`2026-11` -> `November 2026`."""
    names = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember")
    year, number = month.split("-")
    return f"{names[int(number) - 1]} {year}"


def channels_for(kind: Kind, chosen: list[Channel] | None) -> list[Channel]:
    """The person's choice for this kind, or the default; transactional kinds never end empty."""
    channels = list(dict.fromkeys(chosen if chosen is not None else kind.default_channels))
    if kind.transactional and not channels:
        channels = list(kind.default_channels)
    return channels


def percent(bps: int) -> str:
    """Basis points as Indonesians write a percentage: 100 -> '1%', 125 -> '1,25%'."""
    whole, rest = divmod(bps, 100)
    return f"{whole}%" if rest == 0 else f"{whole},{rest:02d}".rstrip("0") + "%"
