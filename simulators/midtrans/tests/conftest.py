"""Live fixtures: the simulator on a real uvicorn server and a real HTTP notification receiver."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from midtrans_simulator.main import create_app
from midtrans_simulator.settings import Settings

SERVER_KEY = "SB-Mid-server-test-only"


class Receiver:
    """Records every notification POST; can be told to fail the first N for one order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.fail_plan: dict[str, list[int]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                body = json.loads(raw)
                with receiver._lock:
                    receiver.received.append(body)
                    plan = receiver.fail_plan.get(str(body.get("order_id")), [])
                    status = plan.pop(0) if plan else 200
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/midtrans/notification"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def for_order(self, order_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [b for b in self.received if b.get("order_id") == order_id]

    def wait_for(self, order_id: str, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 8.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.for_order(order_id)
            if predicate(got):
                return got
            time.sleep(0.05)
        raise AssertionError(f"receiver never saw the expected notifications: {self.for_order(order_id)}")


class LiveServer:
    """uvicorn in a thread, on a socket bound before start so there is no port race."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("simulator did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self._sock.close()


def make_settings(notification_url: str, public_url: str = "http://sim.test") -> Settings:
    return Settings(
        server_key=SERVER_KEY,
        notification_url=notification_url,
        public_url=public_url,
        expiry_check_seconds=0.1,
        notify_retry_base_seconds=0.05,
        notify_max_attempts=10,
        notify_timeout_seconds=2.0,
    )


@dataclass
class Live:
    server: LiveServer
    receiver: Receiver
    server_key: str = SERVER_KEY

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def auth(self) -> tuple[str, str]:
        return (self.server_key, "")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.start()
    yield rec
    rec.stop()


@pytest.fixture(scope="module")
def live(receiver: Receiver) -> Iterator[Live]:
    server = LiveServer(create_app(make_settings(receiver.url)))
    server.start()
    yield Live(server, receiver)
    server.stop()


@pytest.fixture
def client(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=15) as c:
        yield c


@pytest.fixture
def start_simulator(receiver: Receiver) -> Iterator[Callable[[], LiveServer]]:
    """For tests that need their own server, e.g. to watch it shut down."""
    started: list[LiveServer] = []

    def start() -> LiveServer:
        server = LiveServer(create_app(make_settings(receiver.url)))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.thread.is_alive():
            server.stop()
