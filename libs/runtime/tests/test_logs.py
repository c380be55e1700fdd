"""Every log line a service writes is one JSON object naming the service, its own and its
libraries' alike; the libraries' per-request INFO lines are left out."""

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from beli_runtime.logs import QUIET, configure_logging, get_logger


@pytest.fixture
def restored() -> Iterator[None]:
    """The process's logging as it was: the test's handler writes to a capture that ends with it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {name: logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access", *QUIET)}
    saved = {name: (list(logger.handlers), logger.propagate, logger.level) for name, logger in named.items()}
    yield
    root.handlers, root.level = handlers, level
    for name, (kept, propagate, own_level) in saved.items():
        named[name].handlers, named[name].propagate, named[name].level = kept, propagate, own_level
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_library_and_own_logs_are_json_lines_naming_the_service(capsys: pytest.CaptureFixture[str], restored: None) -> None:
    configure_logging("orders")
    get_logger(__name__).info("order.placed", order_id="BNTT-1")
    logging.getLogger("aiokafka.consumer").warning("Heartbeat failed for group %s", "orders")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    logging.getLogger("httpx").info('HTTP Request: POST http://provider/v1/messages "HTTP/1.1 201 Created"')

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert [line["event"] for line in lines] == ["order.placed", "Heartbeat failed for group orders", "Started server process [42]"]
    assert all(line["service"] == "orders" and line["timestamp"] for line in lines)
    assert [line["level"] for line in lines] == ["info", "warning", "info"]
    assert lines[1]["logger"] == "aiokafka.consumer"


def test_uvicorn_writes_no_second_line_per_request(capsys: pytest.CaptureFixture[str], restored: None) -> None:
    """uvicorn logs a request's access line only while `uvicorn.access` has a handler
    (`hasHandlers()`, its protocols ask once per connection); the service's own `http.request` line
    is the one kept."""
    configure_logging("payments")
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", "/midtrans/notification", "1.1", 200)

    assert not access.hasHandlers()
    assert capsys.readouterr().out == ""
