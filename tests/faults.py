"""A stream of checkouts that keeps going through faults, and the check that everything
converged: every order final, one levy entry per paid line, stock exact."""

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from infra import stack
from infra.apps import start_app
from tests.support import FINAL, Api, System, eventually, log_report

RETRYABLE = (httpx.TransportError,)


@dataclass
class Stream:
    products: dict[str, int]  # product id -> initial stock
    orders: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    failures_seen: list[int] = field(default_factory=list)  # HTTP statuses of refused attempts

    @classmethod
    async def stock_up(cls, api: Api, count: int, stock: int, price: int = 45_000) -> "Stream":
        seller = await api.seller("Flores Timur")
        products = [
            await api.product(seller, price=price + i * 1_111, stock=stock, category="pangan", name=f"Produk uji {i}") for i in range(count)
        ]
        return cls({p["id"]: stock for p in products})

    async def buyer(self, api: Api, rng: random.Random, decision: str = "settlement") -> str:
        items = [(pid, rng.randint(1, 2)) for pid in rng.sample(sorted(self.products), k=rng.randint(1, min(2, len(self.products))))]
        # One shopper and one key for every try: keys are per shopper, so a retry as someone else
        # (after orders died between committing and answering) would place a second order.
        customer, key = api.shopper(), uuid.uuid4().hex
        response = await self._until_accepted(lambda: api.place(items, customer=customer, key=key))
        order_id = response.json()["id"]
        self.orders[order_id] = items
        try:
            order = await self._until_accepted_value(lambda: api.payable(order_id, timeout=120))
        except AssertionError:
            # Payments died between Midtrans creating the transaction and recording its link: Snap
            # will not hand the link out again (order_id already used) and nobody can pay it, so it
            # would only expire at its deadline. The shopper who never got a link gives up and
            # cancels, as a real one would; the cancellation must converge like any other.
            await self._until_accepted(lambda: api.orders.post(f"/orders/{order_id}/cancel"), ok=(200, 409))
            return order_id
        if order["status"] == "AWAITING_PAYMENT":
            await self._until_accepted(
                lambda: api.midtrans.post(f"/simulator/pay/{order_id}", json={"transaction_status": decision}), ok=(200, 409)
            )
        return order_id

    async def _until_accepted(self, call: Any, ok: tuple[int, ...] = (200, 201)) -> httpx.Response:
        for _ in range(120):
            try:
                response = await call()
            except RETRYABLE:
                self.failures_seen.append(0)
                await asyncio.sleep(0.5)
                continue
            if response.status_code in ok:
                return response
            assert response.status_code in (502, 503), f"unclean failure {response.status_code}: {response.text}"
            self.failures_seen.append(response.status_code)
            await asyncio.sleep(0.5)
        raise AssertionError("the system never accepted the request")

    async def _until_accepted_value(self, call: Any) -> Any:
        for _ in range(60):
            try:
                return await call()
            except RETRYABLE:
                await asyncio.sleep(0.5)
        raise AssertionError("the system never answered")

    async def run(self, api: Api, buyers: int, seed: int, decisions: tuple[str, ...] = ("settlement", "settlement", "expire")) -> None:
        rng = random.Random(seed)
        await asyncio.gather(*[self.buyer(api, random.Random(rng.random()), rng.choice(decisions)) for _ in range(buyers)])

    async def converged(self, api: Api, label: str, timeout: float = 120.0) -> dict[str, int]:
        """Assert the end state and return the figures checked."""
        finals = {}
        for order_id in self.orders:
            try:
                order = await eventually(
                    lambda o=order_id: api.order(o), lambda o: o["status"] in FINAL, timeout=timeout, what=f"{order_id} final"
                )
            except AssertionError as stuck:
                payment = (await api.payments.get(f"/payments/{order_id}")).text[:600]
                raise AssertionError(f"{stuck}\npayment: {payment}\n{log_report(api.log_dir, order_id)}") from None
            finals[order_id] = order["status"]
        sold: dict[str, int] = {pid: 0 for pid in self.products}
        levy_entries = 0
        for order_id, items in self.orders.items():
            entries = (await api.levy_entries(order_id))["items"]
            if finals[order_id] == "PAID":
                assert len(entries) == len(items), f"{order_id}: {len(entries)} levy entries for {len(items)} paid lines"
                for pid, quantity in items:
                    sold[pid] += quantity
            else:
                assert entries == [], f"{order_id} is {finals[order_id]} but has levy entries"
            levy_entries += len(entries)
        for pid, initial in self.products.items():
            product = await eventually(
                lambda p=pid: api.stock_of(p),
                lambda p: p["reserved"] == 0 and p["sold"] == sold[p["id"]],
                timeout=timeout,
                what=f"stock of {pid} settled",
            )
            assert product["stock"] + product["sold"] == initial and product["stock"] >= 0, product
        figures = {
            "orders": len(self.orders),
            "paid": sum(s == "PAID" for s in finals.values()),
            "cancelled": sum(s == "CANCELLED" for s in finals.values()),
            "rejected": sum(s == "REJECTED" for s in finals.values()),
            "lines": sum(len(i) for i in self.orders.values()),
            "levy_entries": levy_entries,
            "units_sold": sum(sold.values()),
            "refused_attempts": len(self.failures_seen),
        }
        print(f"\n[{label}] checked " + ", ".join(f"{k}={v}" for k, v in figures.items()))
        return figures


def restart_app(system: System, name: str, *, instance: int = 0, port: int | None = None) -> None:
    key = name if instance == 0 else f"{name}-{instance}"
    system.processes[key] = start_app(system.profile, system.endpoints, name, instance=instance, port=port)


def kill_app(system: System, name: str) -> None:
    system.processes[name].kill()


def restart_kafka(system: System) -> None:
    stack.restart_kafka(system.profile)
