"""A consumer's partitions handled concurrently, each one strictly in order.

Events are keyed by aggregate id, so one order's events share a partition: a worker per partition
handles its events one after another, while the workers of different partitions overlap (at most
`concurrency` events at a time across them). The fetch loop goes on meanwhile, so an event on an
idle partition starts at once instead of waiting behind a busy one. Offsets are reported per
partition only up to the last event that finished; a partition's events not yet started when it
is revoked (or the consumer stops) are dropped, for its next owner to fetch from the committed
offset. A partition whose backlog grows past `BACKLOG` is paused until its worker catches up.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

# Fetched events one partition may queue before fetching from it pauses.
BACKLOG = 500


class PartitionWorkers:
    def __init__(self, handle: Callable[[Any], Awaitable[None]], concurrency: int) -> None:
        self._handle = handle
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._queues: dict[TopicPartition, deque[Any]] = {}
        self._tasks: dict[TopicPartition, asyncio.Task[None]] = {}
        self._done: dict[TopicPartition, int] = {}
        self._failure: BaseException | None = None

    def take(self, kafka: AIOKafkaConsumer, partition: TopicPartition, messages: list[Any]) -> None:
        """Queue a partition's fetched events behind the ones it already has; start its worker."""
        queue = self._queues.setdefault(partition, deque())
        queue.extend(messages)
        if len(queue) >= BACKLOG:
            kafka.pause(partition)
        if partition not in self._tasks:
            self._tasks[partition] = asyncio.create_task(self._work(kafka, partition, queue), name=f"partition:{partition}")

    async def _work(self, kafka: AIOKafkaConsumer, partition: TopicPartition, queue: deque[Any]) -> None:
        try:
            while queue:
                message = queue.popleft()
                async with self._slots:
                    await self._handle(message)
                self._done[partition] = message.offset + 1
                if len(queue) < BACKLOG // 2 and partition in kafka.paused():
                    kafka.resume(partition)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - reported to the fetch loop, which restarts the consumer
            self._failure = self._failure or error
        finally:
            # No await between the queue running dry and these: `take` cannot slip in between.
            self._tasks.pop(partition, None)
            self._queues.pop(partition, None)

    def finished(self) -> dict[TopicPartition, int]:
        """The offsets to commit (per partition, the next event after the last one that finished)
        since the last call."""
        done, self._done = self._done, {}
        return done

    def check(self) -> None:
        """Raise a worker's unexpected failure (handlers' own failures never get here)."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    async def release(self, partitions: Iterable[TopicPartition]) -> None:
        """Let the given partitions' workers finish the event each is handling, drop the rest of
        their queues (uncommitted, so fetched again by whoever owns the partition next) and wait."""
        waiting = []
        for partition in partitions:
            if partition in self._queues:
                self._queues[partition].clear()
            if partition in self._tasks:
                waiting.append(self._tasks[partition])
        if waiting:
            await asyncio.wait(waiting)

    async def release_all(self) -> None:
        await self.release(list(self._tasks))
