"""A consumer's partitions handled concurrently, each key's events strictly in order.

Events are keyed by aggregate id, so one order's events share a partition and arrive in the order
written. A partition's events of one key are handled one after another; events of different keys
overlap, in the same partition as in different ones (at most `concurrency` events at a time
across all), so one slow or busy order never holds back the others that hash to its partition.
An event waits only for the events of its own key fetched before it. The fetch loop goes on
meanwhile. Offsets are reported per partition only up to the last event before which every
event has finished; a partition's events not yet started when it is revoked (or the consumer
stops) are dropped, for its next owner to fetch from the committed offset (events after the
committed offset that had finished are fetched again and deduplicated by the inbox). A partition
whose backlog grows past `BACKLOG` is paused until it catches up.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

# Fetched events one partition may queue before fetching from it pauses.
BACKLOG = 500
# How far into a partition's queue the next event to start is looked for.
LOOK_AHEAD = 64


class _Partition:
    def __init__(self) -> None:
        self.waiting: deque[Any] = deque()  # fetched, not started, in offset order
        self.offsets: deque[int] = deque()  # fetched, not yet reported, in offset order
        self.finished: set[int] = set()  # of `offsets`, those whose event finished
        self.keys: set[bytes | None] = set()  # the keys of the events being handled
        self.running: set[asyncio.Task[None]] = set()
        self.changed = asyncio.Event()  # an event finished or more were fetched

    def next_event(self) -> Any | None:
        """The first waiting event whose key no running event, nor an earlier waiting one, has."""
        passed: set[bytes | None] = set()
        for index, message in enumerate(self.waiting):
            if index >= LOOK_AHEAD:
                break
            if message.key in self.keys or message.key in passed:
                passed.add(message.key)
                continue
            del self.waiting[index]
            return message
        return None

    def reportable(self, offset: int) -> int | None:
        """Record that the event at `offset` finished; the offset to report now, if any."""
        self.finished.add(offset)
        report = None
        while self.offsets and self.offsets[0] in self.finished:
            done = self.offsets.popleft()
            self.finished.discard(done)
            report = done + 1
        return report


class PartitionWorkers:
    def __init__(self, handle: Callable[[Any], Awaitable[None]], concurrency: int) -> None:
        self._handle = handle
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._tasks: dict[TopicPartition, asyncio.Task[None]] = {}
        self._done: dict[TopicPartition, int] = {}
        self._failure: BaseException | None = None

    def take(self, kafka: AIOKafkaConsumer, partition: TopicPartition, messages: list[Any]) -> None:
        """Queue a partition's fetched events behind the ones it already has; start its worker."""
        state = self._partitions.setdefault(partition, _Partition())
        state.waiting.extend(messages)
        state.offsets.extend(message.offset for message in messages)
        state.changed.set()
        if len(state.waiting) >= BACKLOG:
            kafka.pause(partition)
        if partition not in self._tasks:
            self._tasks[partition] = asyncio.create_task(self._work(kafka, partition, state), name=f"partition:{partition}")

    async def _work(self, kafka: AIOKafkaConsumer, partition: TopicPartition, state: _Partition) -> None:
        """Start the partition's events as slots free up and their keys allow, until none is left."""
        try:
            while state.waiting or state.running:
                state.changed.clear()
                message = state.next_event() if state.waiting else None
                if message is None:
                    await state.changed.wait()  # every waiting event's key is busy, or none waits
                    continue
                state.keys.add(message.key)
                await self._slots.acquire()
                state.running.add(asyncio.create_task(self._run(kafka, partition, state, message)))
        except asyncio.CancelledError:
            for task in state.running:
                task.cancel()
            raise
        finally:
            # No await between the queue running dry and these: `take` cannot slip in between.
            self._tasks.pop(partition, None)
            self._partitions.pop(partition, None)

    async def _run(self, kafka: AIOKafkaConsumer, partition: TopicPartition, state: _Partition, message: Any) -> None:
        try:
            await self._handle(message)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - reported to the fetch loop, which restarts the consumer
            # Neither its offset nor its key is freed: nothing at or after it is reported, and no
            # later event of its key starts before the consumer restarts from the committed offset.
            self._failure = self._failure or error
        else:
            state.keys.discard(message.key)
            report = state.reportable(message.offset)
            if report is not None:
                self._done[partition] = report
        finally:
            # Out of `running` before the wake-up, not in a done callback (which runs after the
            # woken loop): otherwise the loop sees it still running, waits again, and no later
            # change comes to end it when the partition is being released.
            state.running.discard(asyncio.current_task())
            self._slots.release()
            state.changed.set()
            if len(state.waiting) < BACKLOG // 2 and partition in kafka.paused():
                kafka.resume(partition)

    def finished(self) -> dict[TopicPartition, int]:
        """The offsets to commit (per partition, the next event after the last one before which
        every event finished) since the last call."""
        done, self._done = self._done, {}
        return done

    def check(self) -> None:
        """Raise a worker's unexpected failure (handlers' own failures never get here)."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    async def release(self, partitions: Iterable[TopicPartition]) -> None:
        """Let the given partitions' events being handled finish, drop the rest of their queues
        (uncommitted, so fetched again by whoever owns the partition next) and wait."""
        waiting = []
        for partition in partitions:
            state = self._partitions.get(partition)
            if state is not None:
                state.waiting.clear()
                state.changed.set()
            if partition in self._tasks:
                waiting.append(self._tasks[partition])
        if waiting:
            await asyncio.wait(waiting)

    async def release_all(self) -> None:
        await self.release(list(self._tasks))
