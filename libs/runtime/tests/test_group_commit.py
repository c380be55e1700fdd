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
