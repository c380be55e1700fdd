"""The simulator on a real uvicorn server with its real SMTP port: provider API, idempotency,
faults, and mail read back over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Self

import aiosmtplib
import httpx
import pytest
import uvicorn

from messaging_simulator.main import create_app
from messaging_simulator.settings import Settings

TOKEN = "test-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Live:
    def __init__(self) -> None:
        self.smtp_port = free_port()
        app = create_app(Settings(api_token=TOKEN, smtp_port=self.smtp_port, keep=100))
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "simulator did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self._sock.close()


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with Live() as server:
        yield server


@pytest.fixture
def client(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        c.post("/simulator/reset")
        yield c


def body(to: str = "+6281234567890", text: str = "Halo dari Beli NTT") -> dict[str, str]:
    return {"channel": "whatsapp", "to": to, "text": text, "reference": "ref-1"}


def test_message_is_accepted_once_per_idempotency_key(client: httpx.Client) -> None:
    first = client.post("/v1/messages", json=body(), headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201 and first.json()["status"] == "queued"
    again = client.post("/v1/messages", json=body(), headers={"Idempotency-Key": "k1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/messages", json=body(text="lain"), headers={"Idempotency-Key": "k1"})
    assert other.status_code == 409
    assert [m["text"] for m in client.get("/v1/messages").json()] == ["Halo dari Beli NTT"]


def test_bad_token_and_non_e164_numbers_are_refused(client: httpx.Client) -> None:
    assert client.post("/v1/messages", json=body(), headers={"Authorization": "Bearer nope"}).status_code == 401
    refused = client.post("/v1/messages", json=body(to="081234567890"))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_recipient"
    assert "E.164" in refused.json()["message"]


def test_faults_fail_the_next_requests_for_one_number_then_clear(client: httpx.Client) -> None:
    client.post("/simulator/faults", json={"status": 503, "count": 2, "to": "+6281111111111"})
    assert client.post("/v1/messages", json=body(to="+6282222222222")).status_code == 201  # another number
    codes = [client.post("/v1/messages", json=body(to="+6281111111111")).status_code for _ in range(3)]
    assert codes == [503, 503, 201]
    assert len(client.get("/simulator/requests", params={"to": "+6281111111111"}).json()) == 3


def test_slow_provider_accepts_first_then_answers_late(client: httpx.Client) -> None:
    client.post("/simulator/faults", json={"status": None, "count": 1, "delay_seconds": 1.5})
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v1/messages", json=body(), headers={"Idempotency-Key": "slow"}, timeout=0.5)
    retry = client.post("/v1/messages", json=body(), headers={"Idempotency-Key": "slow"})
    assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    assert len(client.get("/v1/messages").json()) == 1


async def test_smtp_mail_is_readable_over_http(live: Live, client: httpx.Client) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "Beli NTT <noreply@beli-ntt.id>", "asn@nttprov.example.id", "Pembayaran diterima"
    mail.set_content("Total dibayar: Rp150.000")
    mail.add_alternative("<p>Total dibayar: <b>Rp150.000</b></p>", subtype="html")
    await aiosmtplib.send(mail, hostname="127.0.0.1", port=live.smtp_port, timeout=5)
    client.post("/simulator/faults", json={"target": "smtp", "status": 451, "count": 1})
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=live.smtp_port, timeout=5)
    assert refused.value.code == 451
    received = client.get("/mail", params={"to": "asn@nttprov.example.id"}).json()
    assert len(received) == 1
    assert received[0]["subject"] == "Pembayaran diterima"
    assert "Rp150.000" in received[0]["text"] and "<b>Rp150.000</b>" in received[0]["html"]
    page = client.get("/")
    assert page.status_code == 200 and "Pembayaran diterima" in page.text
