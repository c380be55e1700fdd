"""Behaviour of the Midtrans simulator as our payments service and a developer see it."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import midtransclient
import pytest

from midtrans_simulator.domain import signature_key

WIB = timezone(timedelta(hours=7))
UNAUTHORIZED = "Access denied due to unauthorized transaction, please check client or server key"


def new_order_id() -> str:
    return f"BNTT-{uuid.uuid4().hex[:12].upper()}"


def snap_body(order_id: str, gross: Any = 150000, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transaction_details": {"order_id": order_id, "gross_amount": gross},
        "item_details": [
            {"id": "SKU-1", "name": "Tenun ikat Sumba", "price": 100000, "quantity": 1},
            {"id": "SKU-2", "name": "Kopi Bajawa 250 g", "price": 25000, "quantity": 2},
        ],
        "customer_details": {"first_name": "Maria", "email": "maria@example.test"},
    }
    body.update(extra)
    return body


def create(client: httpx.Client, live: Any, order_id: str | None = None, **extra: Any) -> str:
    order_id = order_id or new_order_id()
    response = client.post("/snap/v1/transactions", json=snap_body(order_id, **extra), auth=live.auth)
    assert response.status_code == 201, response.text
    return order_id


def pay(client: httpx.Client, order_id: str, status: str, payment_type: str | None = None) -> httpx.Response:
    body = {"transaction_status": status} | ({"payment_type": payment_type} if payment_type else {})
    return client.post(f"/simulator/pay/{order_id}", json=body)


def independent_signature(body: dict[str, Any], server_key: str) -> str:
    raw = body["order_id"] + body["status_code"] + body["gross_amount"] + server_key
    return hashlib.sha512(raw.encode()).hexdigest()


def test_signature_key_is_sha512_of_order_status_gross_and_key() -> None:
    expected = hashlib.sha512(b"BNTT-1200150000.00SB-Mid-server-x").hexdigest()
    assert signature_key("BNTT-1", "200", "150000.00", "SB-Mid-server-x") == expected


def test_snap_create_answers_201_with_token_and_redirect_url(client: httpx.Client, live: Any) -> None:
    order_id = new_order_id()
    response = client.post("/snap/v1/transactions", json=snap_body(order_id), auth=live.auth)
    assert response.status_code == 201
    token = response.json()["token"]
    uuid.UUID(token)
    assert response.json()["redirect_url"] == f"http://sim.test/snap/v4/redirection/{token}"
    held = client.get(f"/simulator/transactions/{order_id}").json()
    assert held["customer_details"]["first_name"] == "Maria"
    assert held["status"] == "created"


@pytest.mark.parametrize(
    "auth",
    [None, ("SB-Mid-server-wrong", ""), ("SB-Mid-server-test-only", "not-empty")],
    ids=["missing", "wrong-key", "password-given"],
)
def test_snap_refuses_requests_without_the_server_key(client: httpx.Client, auth: tuple[str, str] | None) -> None:
    response = client.post(
        "/snap/v1/transactions",
        json=snap_body(new_order_id()),
        auth=auth or httpx.USE_CLIENT_DEFAULT,
    )
    assert response.status_code == 401
    assert response.json() == {"error_messages": [UNAUTHORIZED]}


def test_reused_order_id_is_refused(client: httpx.Client, live: Any) -> None:
    order_id = create(client, live)
    again = client.post("/snap/v1/transactions", json=snap_body(order_id), auth=live.auth)
    assert again.status_code == 400
    assert again.json() == {"error_messages": ["transaction_details.order_id sudah digunakan"]}


def test_gross_amount_must_equal_sum_of_items(client: httpx.Client, live: Any) -> None:
    response = client.post("/snap/v1/transactions", json=snap_body(new_order_id(), gross=150001), auth=live.auth)
    assert response.status_code == 400
    [message] = response.json()["error_messages"]
    assert "transaction_details.gross_amount is not equal to the sum of item_details" in message


def test_every_problem_is_reported_naming_its_field(client: httpx.Client, live: Any) -> None:
    body = {
        "transaction_details": {"order_id": "BNTT/" + "x" * 60, "gross_amount": 1500.5},
        "item_details": [{"name": "n" * 51, "price": 10.5, "quantity": 0}],
        "expiry": {"start_time": "2030-01-01T10:00:00", "unit": "week", "duration": 0},
    }
    response = client.post("/snap/v1/transactions", json=body, auth=live.auth)
    assert response.status_code == 400
    messages = response.json()["error_messages"]
    for field in [
        "transaction_details.order_id must be at most 50",
        "transaction_details.order_id may only contain",
        "transaction_details.gross_amount must be an integer",
        "item_details[0].name",
        "item_details[0].price",
        "item_details[0].quantity",
        "expiry.start_time",
        "expiry.unit",
        "expiry.duration",
    ]:
        assert any(m.startswith(field) for m in messages), (field, messages)


def test_integral_float_amounts_are_accepted(client: httpx.Client, live: Any) -> None:
    order_id = create(client, live, gross=150000.0)
    assert client.get(f"/simulator/transactions/{order_id}").json()["gross_amount"] == "150000.00"


def test_expiry_honours_start_time_offset_and_plural_units(client: httpx.Client, live: Any) -> None:
    expiry = {"start_time": "2030-01-01 10:00:00 +0800", "unit": "hours", "duration": 2}
    order_id = create(client, live, expiry=expiry)
    # 10:00 WITA is 09:00 WIB; two hours later is 11:00 WIB.
    held = client.get(f"/simulator/transactions/{order_id}").json()
    assert held["expiry_time"] == "2030-01-01 11:00:00"


def test_status_is_404_until_the_shopper_picks_a_method(client: httpx.Client, live: Any) -> None:
    order_id = create(client, live)
    before = client.get(f"/v2/{order_id}/status", auth=live.auth)
    assert before.status_code == 404
    assert before.json() == {"status_code": "404", "status_message": "Transaction doesn't exist."}
    assert pay(client, order_id, "pending", "bank_transfer").status_code == 200
    first = client.get(f"/v2/{order_id}/status", auth=live.auth).json()
    second = client.get(f"/v2/{first['transaction_id']}/status", auth=live.auth).json()
    assert first["status_code"] == "201" and first["transaction_status"] == "pending"
    assert first["payment_type"] == "bank_transfer" and first["gross_amount"] == "150000.00"
    assert second["transaction_id"] == first["transaction_id"]
    assert first["signature_key"] == independent_signature(first, live.server_key)
    assert client.get(f"/v2/{order_id}/status").status_code == 401


def test_settlement_sends_a_notification_signed_like_midtrans(client: httpx.Client, live: Any) -> None:
    order_id = create(client, live)
    answer = pay(client, order_id, "settlement").json()
    assert answer["delivered"] is True and answer["attempts"] == 1 and answer["last_status"] == 200
    [body] = live.receiver.for_order(order_id)
    assert body == answer["notification"]
    assert body["signature_key"] == independent_signature(body, live.server_key)
    assert body["transaction_status"] == "settlement" and body["status_code"] == "200"
    assert body["gross_amount"] == "150000.00" and body["currency"] == "IDR"
    assert body["payment_type"] == "qris" and body["fraud_status"] == "accept"
    assert body["merchant_id"] == "G000000000"
    settled = datetime.strptime(body["settlement_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=WIB)
    assert abs((datetime.now(UTC) - settled).total_seconds()) < 60
    status = client.get(f"/v2/{order_id}/status", auth=live.auth).json()
    assert status["transaction_status"] == "settlement"
    assert status["settlement_time"] == body["settlement_time"]


def test_stale_transitions_are_refused_and_change_nothing(client: httpx.Client, live: Any) -> None:
    order_id = create(client, live)
    assert pay(client, order_id, "capture", "credit_card").status_code == 200
    assert pay(client, order_id, "settlement").status_code == 200
    stale = pay(client, order_id, "pending")
    assert stale.status_code == 409
    assert "settlement" in stale.json()["error"] and "pending" in stale.json()["error"]
    assert client.get(f"/v2/{order_id}/status", auth=live.auth).json()["transaction_status"] == "settlement"
    assert [b["transaction_status"] for b in live.receiver.for_order(order_id)] == [
        "capture",
        "settlement",
    ]
    assert pay(client, "BNTT-UNKNOWN", "settlement").status_code == 404


def test_cancel_is_idempotent_and_refused_once_settled(client: httpx.Client, live: Any) -> None:
    order_id = create(client, live)
    first = client.post(f"/v2/{order_id}/cancel", auth=live.auth)
    assert first.status_code == 200 and first.json()["transaction_status"] == "cancel"
    live.receiver.wait_for(order_id, lambda got: len(got) == 1)
    again = client.post(f"/v2/{order_id}/cancel", auth=live.auth)
    assert again.status_code == 200 and again.json()["transaction_status"] == "cancel"
    time.sleep(0.3)
    assert len(live.receiver.for_order(order_id)) == 1

    settled = create(client, live)
    pay(client, settled, "settlement")
    refused = client.post(f"/v2/{settled}/cancel", auth=live.auth)
    assert refused.status_code == 412
    assert refused.json() == {
        "status_code": "412",
        "status_message": "Merchant cannot modify the status of the transaction",
    }
    assert client.post("/v2/BNTT-NOPE/cancel", auth=live.auth).status_code == 404


def test_refund_partial_then_full_and_idempotent_by_key(client: httpx.Client, live: Any) -> None:
    order_id = create(client, live)
    unpaid = client.post(f"/v2/{order_id}/refund", json={"refund_key": "r0", "amount": 1}, auth=live.auth)
    assert unpaid.status_code == 412
    pay(client, order_id, "settlement")

    part = {"refund_key": "r1", "amount": 50000, "reason": "barang rusak"}
    first = client.post(f"/v2/{order_id}/refund", json=part, auth=live.auth)
    assert first.status_code == 200
    assert first.json()["transaction_status"] == "partial_refund"
    assert first.json()["refund_amount"] == "50000.00" and first.json()["refund_key"] == "r1"
    replay = client.post(f"/v2/{order_id}/refund", json=part, auth=live.auth)
    assert replay.json() == first.json()

    too_much = {"refund_key": "r2", "amount": 100001}
    assert client.post(f"/v2/{order_id}/refund", json=too_much, auth=live.auth).status_code == 400
    rest = client.post(f"/v2/{order_id}/refund", json={"refund_key": "r3", "amount": 100000}, auth=live.auth)
    assert rest.json()["transaction_status"] == "refund"

    status = client.get(f"/v2/{order_id}/status", auth=live.auth).json()
    assert status["refund_amount"] == "150000.00"
    assert [r["refund_key"] for r in status["refunds"]] == ["r1", "r3"]
    got = live.receiver.wait_for(order_id, lambda got: len(got) == 3)
    # Each change is notified once; the two refunds' notifications are sent side by side and may
    # arrive in either order, as Midtrans's may (the status API is what tells the order).
    by_status = {b["transaction_status"]: b for b in got}
    assert sorted(by_status) == ["partial_refund", "refund", "settlement"]
    assert all(b["signature_key"] == independent_signature(b, live.server_key) for b in got)
    assert by_status["partial_refund"]["refund_amount"] == "50000.00"


def test_failed_notification_is_retried_until_accepted(client: httpx.Client, live: Any) -> None:
    order_id = create(client, live)
    live.receiver.fail_plan[order_id] = [500, 503]
    answer = pay(client, order_id, "settlement").json()
    assert answer["delivered"] is False and answer["last_status"] == 500
    live.receiver.wait_for(order_id, lambda got: len(got) == 3)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        [record] = client.get(f"/simulator/transactions/{order_id}").json()["notifications"]
        if record["delivered"]:
            break
        time.sleep(0.05)
    assert [a["status"] for a in record["attempts"]] == [500, 503, 200]


def test_notify_resends_the_same_notification_n_times(client: httpx.Client, live: Any) -> None:
    order_id = create(client, live)
    pay(client, order_id, "settlement")
    answer = client.post(f"/simulator/notify/{order_id}", params={"times": 3}).json()
    assert answer["statuses"] == [200, 200, 200]
    got = live.receiver.for_order(order_id)
    assert len(got) == 4 and all(b == got[0] for b in got)


def test_unpaid_transaction_expires_and_notifies(client: httpx.Client, live: Any) -> None:
    start = datetime.now(WIB).strftime("%Y-%m-%d %H:%M:%S +0700")
    order_id = create(client, live, expiry={"start_time": start, "unit": "seconds", "duration": 2})
    pay(client, order_id, "pending", "bank_transfer")
    got = live.receiver.wait_for(order_id, lambda got: len(got) == 2)
    expired = got[1]
    assert expired["transaction_status"] == "expire" and expired["status_code"] == "407"
    assert expired["signature_key"] == independent_signature(expired, live.server_key)
    status = client.get(f"/v2/{order_id}/status", auth=live.auth).json()
    assert status["transaction_status"] == "expire"
    assert pay(client, order_id, "settlement").status_code == 409


@pytest.fixture
def clean_faults(client: httpx.Client) -> Iterator[None]:
    yield
    # Faults are global to the shared server: never let one leak into later tests.
    client.delete("/simulator/faults")


def test_faults_fail_snap_and_delay_status(client: httpx.Client, live: Any, clean_faults: None) -> None:
    assert client.post("/simulator/faults", json={"snap_status": 503, "count": 2}).status_code == 200
    answers = [client.post("/snap/v1/transactions", json=snap_body(new_order_id()), auth=live.auth) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 201]
    assert answers[0].json()["error_messages"]

    order_id = create(client, live)
    pay(client, order_id, "settlement")
    client.post("/simulator/faults", json={"status_delay_seconds": 0.6, "count": 1})
    began = time.monotonic()
    assert client.get(f"/v2/{order_id}/status", auth=live.auth).status_code == 200
    assert time.monotonic() - began >= 0.6
    client.post("/simulator/faults", json={"snap_status": 500, "count": 5})
    assert client.delete("/simulator/faults").json()["snap_count"] == 0
    create(client, live)


def test_official_sdk_creates_snap_and_reads_status(live: Any) -> None:
    snap = midtransclient.Snap(is_production=False, server_key=live.server_key)
    snap.api_config.SNAP_SANDBOX_BASE_URL = f"{live.base_url}/snap/v1"
    core = midtransclient.CoreApi(is_production=False, server_key=live.server_key)
    core.api_config.CORE_SANDBOX_BASE_URL = live.base_url

    order_id = new_order_id()
    created = snap.create_transaction(snap_body(order_id))
    assert created["redirect_url"].endswith(created["token"])
    with pytest.raises(midtransclient.error_midtrans.MidtransAPIError) as missing:
        core.transactions.status(order_id)
    assert missing.value.http_status_code == 404

    with httpx.Client(base_url=live.base_url) as control:
        pay(control, order_id, "settlement")
    status = core.transactions.status(order_id)
    assert status["transaction_status"] == "settlement" and status["order_id"] == order_id
    refund = core.transactions.refund(order_id, {"refund_key": "sdk-1", "amount": 150000, "reason": "x"})
    assert refund["transaction_status"] == "refund"
    # The override is per instance: the SDK class still points at the real sandbox.
    assert midtransclient.Snap(is_production=False).api_config.get_snap_base_url().startswith("https://")


def test_payment_page_in_bahasa_lets_a_person_pay(client: httpx.Client, live: Any) -> None:
    order_id = new_order_id()
    token = client.post("/snap/v1/transactions", json=snap_body(order_id), auth=live.auth).json()["token"]
    page = client.get(f"/snap/v4/redirection/{token}")
    assert page.status_code == 200
    for text in [f"Bayar pesanan {order_id}", "Rp150.000", "Tenun ikat Sumba", "Bayar dengan QRIS"]:
        assert text in page.text
    clicked = client.post(
        f"/snap/v4/redirection/{token}/pay",
        content="action=va",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=True,
    )
    assert "Lunas" in clicked.text and "Notifikasi terkirim" in clicked.text
    [body] = live.receiver.for_order(order_id)
    assert body["transaction_status"] == "settlement" and body["payment_type"] == "bank_transfer"
    assert client.get("/snap/v4/redirection/not-a-token").status_code == 404


def test_health_and_metrics(client: httpx.Client, live: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    pay(client, create(client, live), "settlement")
    text = client.get("/metrics").text
    assert 'midtrans_simulator_snap_creates_total{result="created"}' in text
    assert 'midtrans_simulator_notifications_sent_total{outcome="delivered",transaction_status="settlement"}' in text


async def test_concurrent_creates_with_one_order_id_yield_one_transaction(live: Any) -> None:
    order_id = new_order_id()
    async with httpx.AsyncClient(base_url=live.base_url, auth=live.auth) as ac:
        answers = await asyncio.gather(*(ac.post("/snap/v1/transactions", json=snap_body(order_id)) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [201] + [400] * 7


def test_shutdown_stops_the_expiry_sweeper(start_simulator: Any) -> None:
    server = start_simulator()
    simulator = server.app.state.simulator
    assert simulator.expiry_task is not None and not simulator.expiry_task.done()
    server.stop()
    assert not server.thread.is_alive()
    assert simulator.expiry_task.done()


def test_a_slow_snap_creates_the_transaction_before_it_answers(client: httpx.Client, live: Any, clean_faults: None) -> None:
    """A client that gives up waiting has nevertheless created the transaction: a retry is refused."""
    assert client.post("/simulator/faults", json={"snap_delay_seconds": 1.5, "count": 1}).json()["snap_delay_count"] == 1
    order_id = new_order_id()
    with pytest.raises(httpx.ReadTimeout):
        client.post("/snap/v1/transactions", json=snap_body(order_id), auth=live.auth, timeout=0.5)
    assert client.get(f"/simulator/transactions/{order_id}").status_code == 200
    again = client.post("/snap/v1/transactions", json=snap_body(order_id), auth=live.auth)
    assert again.status_code == 400 and "sudah digunakan" in again.json()["error_messages"][0]
