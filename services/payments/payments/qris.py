"""QRIS at an outlet's till through Midtrans Core API (`POST /v2/charge`, `payment_type: "qris"`).
The answer carries the QR twice: `qr_string` (the QRIS payload to render) and the URL of the
`generate-qr-code` action (an image of it); either is shown to the buyer. Notifications and the
status API then work as for Snap."""

from datetime import datetime
from typing import Any

from beli_runtime.clock import WIB
from payments.documents import PaymentDocument
from payments.domain import midtrans_order


def qris_request(payment: PaymentDocument, now: datetime, minutes: int) -> dict[str, Any]:
    return {
        "payment_type": "qris",
        **midtrans_order(payment),
        "qris": {"acquirer": "gopay"},
        # Core API's expiry: the QR stops working inside the order's hold, like Snap's link.
        "custom_expiry": {"order_time": now.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S %z"), "expiry_duration": minutes, "unit": "minute"},
    }


def qris_link(answer: dict[str, Any]) -> dict[str, Any]:
    """What the till needs from a charge's answer, in the shape of a Snap link."""
    listed = answer.get("actions")
    actions: list[Any] = listed if isinstance(listed, list) else []
    url = next((a.get("url") for a in actions if isinstance(a, dict) and a.get("name") == "generate-qr-code"), None)
    if not url or not answer.get("transaction_id"):
        raise ValueError(f"Midtrans's QRIS answer has no QR: {str(answer)[:200]}")
    return {"token": str(answer["transaction_id"]), "redirect_url": str(url), "qr_string": answer.get("qr_string")}
