"""The event loop's lag on /metrics: code that computes without awaiting shows as lag."""

import asyncio
import time

from prometheus_client import REGISTRY

from beli_runtime.loop import measure_lag


def _lag() -> tuple[float, float]:
    return REGISTRY.get_sample_value("event_loop_lag_seconds_count") or 0.0, REGISTRY.get_sample_value("event_loop_lag_seconds_sum") or 0.0


async def test_a_loop_blocked_for_a_while_shows_that_much_lag() -> None:
    count_before, sum_before = _lag()
    measuring = asyncio.create_task(measure_lag(every=0.01))
    try:
        await asyncio.sleep(0.005)  # the timer is set
        time.sleep(0.2)  # a handler computing without awaiting
        while _lag()[0] == count_before:
            await asyncio.sleep(0.005)
    finally:
        measuring.cancel()
    count, total = _lag()
    assert count > count_before
    assert total - sum_before >= 0.15, "the blocked 0.2 s is not in the lag"
