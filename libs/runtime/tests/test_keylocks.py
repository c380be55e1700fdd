"""Per-key locks (beli_runtime.keylocks): overlapping key sets take turns, whatever order they
name their keys in; disjoint ones do not wait; a key's lock goes away once nobody uses it."""

import asyncio

from beli_runtime.keylocks import KeyLocks


async def test_overlapping_keys_take_turns_in_any_order_and_disjoint_ones_do_not_wait() -> None:
    locks = KeyLocks()
    order: list[str] = []
    first_in = asyncio.Event()
    let_first_go = asyncio.Event()

    async def first() -> None:
        async with locks.holding(["b", "a"]):
            order.append("first in")
            first_in.set()
            await let_first_go.wait()
            order.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with locks.holding(["a", "b", "a"]):
            order.append("second in")

    async def other() -> None:
        await first_in.wait()
        async with locks.holding(["c"]):
            order.append("other in")
        let_first_go.set()  # only reachable while "first" still holds a and b

    await asyncio.wait_for(asyncio.gather(first(), second(), other()), timeout=5)
    assert order == ["first in", "other in", "first out", "second in"]
    assert locks.held() == 0


async def test_a_waiter_cancelled_leaves_no_lock_behind() -> None:
    locks = KeyLocks()
    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.holding(["a"]):
            holding.set()
            await release.wait()

    task = asyncio.create_task(holder())
    await holding.wait()
    waiter = asyncio.create_task(locks.holding(["a", "b"]).__aenter__())
    await asyncio.sleep(0)  # the waiter now holds "a"'s place in line
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    release.set()
    await task
    assert locks.held() == 0
    async with locks.holding(["a"]):
        pass
