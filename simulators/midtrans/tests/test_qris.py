"""QRIS through Core API `POST /v2/charge`, with Midtrans's documented request and answer, driven
with the official SDK that the payments service uses."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import midtransclient
import pytest

from midtrans_simulator.qris import crc16

ITEMS = [{"id": "prd-1", "price": 45_000, "quantity": 2, "name": "Kopi Bajawa 250 g"}]


def charge_body(order_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "payment_type": "qris",
        "transaction_details": {"order_id": order_id, "gross_amount": 90_000},
        "item_details": ITEMS,
        "customer_details": {"first_name": "Pembeli", "email": "pembeli@example.id", "phone": "081234567890"},
        "qris": {"acquirer": "gopay"},
        **extra,
    }


def core(live: Any) -> midtransclient.CoreApi:
    api = midtransclient.CoreApi(is_production=False, server_key=live.server_key)
    api.api_config.CORE_SANDBOX_BASE_URL = live.base_url
    return api


def notifications(live: Any, order_id: str, status: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [n for n in live.receiver.received if n.get("order_id") == order_id and n.get("transaction_status") == status]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {status} notification for {order_id}")


def test_a_qris_charge_answers_the_qr_and_settles_with_a_notification(live: Any) -> None:
    order_id = f"BNTT-QRIS-{uuid.uuid4().hex[:8]}"
    answer = core(live).charge(charge_body(order_id, custom_expiry={"expiry_duration": 30, "unit": "minute"}))
    assert answer["status_code"] == "201" and answer["transaction_status"] == "pending"
    assert answer["payment_type"] == "qris" and answer["gross_amount"] == "90000.00" and answer["acquirer"] == "gopay"
    [action] = answer["actions"]
    assert action["name"] == "generate-qr-code" and action["method"] == "GET"
    qr = answer["qr_string"]
    assert qr.startswith("000201") and qr[-8:-4] == "6304" and crc16(qr[:-4]) == qr[-4:]
    assert "5406" + "90000" in qr or "540590000" in qr  # the amount travels in the QR
    with httpx.Client(base_url=live.base_url) as control:
        assert control.get(action["url"].removeprefix("http://sim.test")).text == qr
        assert notifications(live, order_id, "pending")[0]["payment_type"] == "qris"
        paid = control.post(f"/simulator/pay/{order_id}", json={"transaction_status": "settlement", "payment_type": "qris"})
        assert paid.status_code == 200, paid.text
    settled = notifications(live, order_id, "settlement")[0]
    assert settled["payment_type"] == "qris" and settled["status_code"] == "200"
    assert core(live).transactions.status(order_id)["transaction_status"] == "settlement"


def test_a_charge_is_refused_when_midtrans_would_refuse_it(live: Any) -> None:
    order_id = f"BNTT-QRIS-{uuid.uuid4().hex[:8]}"
    core(live).charge(charge_body(order_id))
    with pytest.raises(midtransclient.error_midtrans.MidtransAPIError) as duplicate:
        core(live).charge(charge_body(order_id))
    assert "utilized" in str(duplicate.value.message)
    with pytest.raises(midtransclient.error_midtrans.MidtransAPIError) as wrong_total:
        core(live).charge(charge_body(f"BNTT-QRIS-{uuid.uuid4().hex[:8]}", transaction_details={"order_id": "x-1", "gross_amount": 1}))
    assert "gross_amount" in str(wrong_total.value.message)
