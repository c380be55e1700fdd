"""Midtrans adapter over the official `midtransclient` SDK.

The SDK is synchronous (requests) and sets no HTTP timeout, so every call runs in a worker
thread with a requests session that always passes a timeout, and the coroutine waits with a
deadline too. The gateway's own pool of `midtrans_concurrency` threads bounds how many calls are
in flight at once (asyncio's default pool is shared and has only cpu + 4 threads). Signature
verification is ours (domain.signature_valid): the SDK does none.
"""

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import midtransclient
import requests
from midtransclient.error_midtrans import JSONDecodeError as MidtransNotJson
from midtransclient.error_midtrans import MidtransAPIError

from payments.settings import PaymentsSettings


class MidtransUnavailable(Exception):
    """Timeout, connection failure or 5xx: try again later."""


class MidtransRefused(Exception):
    """4xx: the request is wrong (or not allowed now); retrying it unchanged will not help."""

    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.body = body or {}


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: float, connections: int) -> None:
        super().__init__()
        self._timeout = timeout
        # One kept-alive connection per thread that may call at once.
        for scheme in ("http://", "https://"):
            self.mount(scheme, requests.adapters.HTTPAdapter(pool_maxsize=max(10, connections)))

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(*args, **kwargs)


class MidtransGateway:
    def __init__(self, settings: PaymentsSettings) -> None:
        self._timeout = settings.midtrans_timeout_seconds
        self.concurrency = max(1, settings.midtrans_concurrency)
        # A call waits for a free thread before its deadline starts (the jobs, refunds and the
        # reconciliation share the threads).
        self._slots = asyncio.Semaphore(self.concurrency)
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="midtrans")
        session = _TimeoutSession(self._timeout, self.concurrency)
        self._snap = midtransclient.Snap(
            is_production=settings.midtrans_is_production, server_key=settings.midtrans_server_key, client_key=settings.midtrans_client_key
        )
        self._core = midtransclient.CoreApi(
            is_production=settings.midtrans_is_production, server_key=settings.midtrans_server_key, client_key=settings.midtrans_client_key
        )
        for client in (self._snap, self._core):
            client.http_client.http_client = session
            # Instance attributes shadow the SDK's class-level URLs without patching the module.
            if settings.midtrans_snap_base_url:
                client.api_config.SNAP_SANDBOX_BASE_URL = client.api_config.SNAP_PRODUCTION_BASE_URL = settings.midtrans_snap_base_url
            if settings.midtrans_core_base_url:
                client.api_config.CORE_SANDBOX_BASE_URL = client.api_config.CORE_PRODUCTION_BASE_URL = settings.midtrans_core_base_url

    async def create_transaction(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return await self._call(self._snap.create_transaction, parameters)

    async def charge(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Core API `POST /v2/charge` (an outlet's QRIS payment)."""
        return await self._call(self._core.charge, parameters)

    async def status(self, order_id: str) -> dict[str, Any]:
        return await self._call(self._core.transactions.status, order_id)

    async def cancel(self, order_id: str) -> dict[str, Any]:
        return await self._call(self._core.transactions.cancel, order_id)

    async def refund(self, order_id: str, refund_key: str, amount: int, reason: str) -> dict[str, Any]:
        return await self._call(self._core.transactions.refund, order_id, {"refund_key": refund_key, "amount": amount, "reason": reason})

    async def _call(self, function: Any, *args: Any) -> dict[str, Any]:
        async with self._slots:
            return await self._call_in_thread(function, *args)

    async def _call_in_thread(self, function: Any, *args: Any) -> dict[str, Any]:
        # The caller's context goes with the call (as asyncio.to_thread does): its trace.
        call = functools.partial(contextvars.copy_context().run, function, *args)
        try:
            return await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(self._pool, call), timeout=self._timeout + 2)
        except TimeoutError:
            raise MidtransUnavailable("Midtrans did not answer in time") from None
        except requests.RequestException as error:
            raise MidtransUnavailable(f"cannot reach Midtrans: {error}") from None
        except MidtransNotJson:
            raise MidtransUnavailable("Midtrans answered something that is not JSON (a proxy error page?)") from None
        except MidtransAPIError as error:
            status = _status_of(error)
            body = error.api_response_dict if isinstance(error.api_response_dict, dict) else {}
            if status >= 500 or status == 0:
                raise MidtransUnavailable(f"Midtrans answered {status}") from None
            raise MidtransRefused(status, _message_of(body) or str(error.message)[:300], body) from None


def _status_of(error: MidtransAPIError) -> int:
    body = error.api_response_dict if isinstance(error.api_response_dict, dict) else {}
    for candidate in (body.get("status_code"), error.http_status_code):
        try:
            if candidate is not None and int(candidate) >= 400:
                return int(candidate)
        except (TypeError, ValueError):
            continue
    return int(error.http_status_code or 0)


def _message_of(body: dict[str, Any]) -> str:
    messages = body.get("error_messages")
    if isinstance(messages, list) and messages:
        return "; ".join(str(message) for message in messages)
    return str(body.get("status_message", ""))
