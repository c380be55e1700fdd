"""Group commit with keys: a batch written at the same time as another never holds the same keys;
an item that would overlap waits for the next batch, the others do not wait for it."""

import asyncio
from collections.abc import Sequence

from beli_runtime.group_commit import GroupCommit


async def test_an_item_whose_keys_a_batch_holds_waits_and_the_others_are_written_meanwhile() -> None:
    written: list[list[str]] = []
    first_started, release_first = asyncio.Event(), asyncio.Event()

    async def write(items: Sequence[tuple[str, str]]) -> list[str]:
        names = [name for name, _ in items]
        written.append(names)
        if names == ["hot-1"]:
            first_started.set()
            await release_first.wait()
        return names

    queue: GroupCommit[tuple[str, str], str] = GroupCommit(write, "test", writers=2, keys=lambda item: [item[1]])
    first = asyncio.create_task(queue.submit(("hot-1", "prd-hot")))
    await first_started.wait()
    second = asyncio.create_task(queue.submit(("hot-2", "prd-hot")))
    cold = asyncio.create_task(queue.submit(("cold-1", "prd-cold")))
    assert await cold == "cold-1", "an item of other keys waited for the batch being written"
    assert not second.done() and written == [["hot-1"], ["cold-1"]], written
    release_first.set()
    assert await first == "hot-1" and await second == "hot-2"
    assert written == [["hot-1"], ["cold-1"], ["hot-2"]]


async def test_a_writer_lingers_for_the_announced_items_and_no_longer_than_the_linger() -> None:
    """A job step announces its items: their writes share one batch, though they come one after
    another; an item that ends without submitting is not waited for; one that comes after the
    linger goes in a batch of its own (the linger bounds what the first item waits)."""
    written: list[list[str]] = []

    async def write(items: Sequence[str]) -> list[str]:
        written.append(list(items))
        return list(items)

    queue: GroupCommit[str, str] = GroupCommit(write, "test", linger=5.0)

    async def item(name: str, after: float, submits: bool = True) -> str | None:
        await asyncio.sleep(after)
        return await queue.submit(name) if submits else None

    results = await asyncio.gather(
        queue.expected(item("a", 0.0)), queue.expected(item("b", 0.05)), queue.expected(item("skipped", 0.1, submits=False))
    )
    assert results == ["a", "b", None] and written == [["a", "b"]], written

    written.clear()
    short: GroupCommit[str, str] = GroupCommit(write, "test", linger=0.05)
    late = asyncio.Event()

    async def slow() -> str:
        await late.wait()
        return await short.submit("slow")

    slow_one = asyncio.ensure_future(short.expected(slow()))
    assert await short.expected(short.submit("quick")) == "quick", "the first item waited beyond the linger"
    late.set()
    assert await slow_one == "slow" and written == [["quick"], ["slow"]], written


def _observed(metric: str, what: str) -> tuple[float, float]:
    """(count, sum) of a group-commit histogram for one queue, as /metrics shows them."""
    from prometheus_client import REGISTRY

    count = REGISTRY.get_sample_value(f"{metric}_count", {"what": what}) or 0.0
    total = REGISTRY.get_sample_value(f"{metric}_sum", {"what": what}) or 0.0
    return count, total


async def test_metrics_show_how_long_items_waited_for_their_batch_and_how_long_batches_took() -> None:
    """An item submitted while a batch is being written waits for that write: /metrics shows the
    wait (group_commit_wait_seconds) apart from the writes (group_commit_write_seconds)."""
    first_started, release_first = asyncio.Event(), asyncio.Event()

    async def write(items: Sequence[str]) -> list[str]:
        if items == ["first"]:
            first_started.set()
            await release_first.wait()
        return list(items)

    queue: GroupCommit[str, str] = GroupCommit(write, "metrics-test")
    waits_before = _observed("group_commit_wait_seconds", "metrics-test")
    writes_before = _observed("group_commit_write_seconds", "metrics-test")
    first = asyncio.create_task(queue.submit("first"))
    await first_started.wait()
    later = [asyncio.create_task(queue.submit(name)) for name in ("second", "third")]
    await asyncio.sleep(0.1)
    release_first.set()
    assert await first == "first" and [await task for task in later] == ["second", "third"]

    waits = _observed("group_commit_wait_seconds", "metrics-test")
    writes = _observed("group_commit_write_seconds", "metrics-test")
    assert waits[0] - waits_before[0] == 3, "one wait per item"
    assert waits[1] - waits_before[1] >= 0.2, "the two items that came during the first write waited for it"
    assert writes[0] - writes_before[0] == 2, "two batches: the first item's, then the two others together"
    assert writes[1] - writes_before[1] >= 0.1
