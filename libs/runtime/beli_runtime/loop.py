"""The event loop's lag: a timer that asks to wake every `every` seconds records how late it woke.

Every request, consumed event and job step of a service shares one event loop, so a piece of
code that computes for long without awaiting delays all of them; this is the figure that shows it
(`event_loop_lag_seconds` on /metrics). Ten timers a second cost nothing measurable."""

import asyncio

from beli_runtime import metrics

EVERY_SECONDS = 0.1


async def measure_lag(every: float = EVERY_SECONDS) -> None:
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + every
        await asyncio.sleep(every)
        metrics.EVENT_LOOP_LAG.observe(max(0.0, loop.time() - due))
