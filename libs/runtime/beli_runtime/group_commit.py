"""Group commit: items submitted while a batch is being written wait and are written together in
the next one, so a busy caller writes a few transactions rather than one per item, and a quiet one
adds no wait (the first item is written at once).

Payments' jobs use one per job step (the links it opened, the payments it settled: every batch is
written under the step's lease, its fence); every consumer uses one for the events its partitions
handle at the same time (inbox.py). Up to `writers` batches are written at once, each taking every
item waiting when it starts (with `keys`: every item whose keys no other batch being written
holds; the others wait until that batch has committed). A batch that fails for something that is
not its items' fault (`not_the_items_fault`: the database away, a lost lease) fails every item;
any other failure writes the batch again one item at a time, so one bad item never holds back
the others and gets its own error.

With `linger`, a writer waits up to that long (from the oldest item waiting) for the items that
were announced (`expected`) and have not been submitted yet: a job step announces the items it
works on, so that their writes share one transaction (one lease fence, one read, one write) rather
than one per batch that happened to be ready (issue 11). An item that ends without submitting
stops being waited for at once."""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from beli_runtime import metrics
from beli_runtime.logs import get_logger

log = get_logger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")
T = TypeVar("T")


@dataclass
class _Expected:
    """An announced item's work: whether it has submitted yet (it is waited for until then)."""

    queue: "GroupCommit[Any, Any]"
    submitted: bool = False


_expected: ContextVar[_Expected | None] = ContextVar("beli_group_commit_expected", default=None)


class BatchConflict(Exception):
    """Something the batch read changed before its write (never under snapshot isolation, where
    the write conflicts and the transaction is retried): the batch is written one by one."""


def _nobody_else(error: Exception) -> bool:
    return False


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[list[Result]]],
        what: str,
        *,
        not_the_items_fault: Callable[[Exception], bool] = _nobody_else,
        writers: int = 1,
        keys: Callable[[Item], Iterable[str]] | None = None,
        linger: float = 0.0,
    ) -> None:
        self._write = write
        self._what = what  # for the log and the error of an interrupted batch
        self._not_the_items_fault = not_the_items_fault
        self._writers = max(1, writers)
        self._writing = 0  # batch writers running now
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._submitted_at: dict[asyncio.Future[Result], float] = {}  # loop time, for the wait metric
        self._tasks: set[asyncio.Task[None]] = set()
        self._keys = keys
        self._held: Counter[str] = Counter()  # the keys of the batches being written
        self._linger = linger
        self._announced = 0  # items announced by `expected` that have neither submitted nor ended
        self._arrival = asyncio.Event()  # an announced item submitted or ended
        self._since = 0.0  # when the oldest item waiting was submitted (loop time)

    def expected(self, work: Awaitable[T]) -> Awaitable[T]:
        """`work`, announced at once as an item that may be submitted: with `linger`, a writer
        waits for it (up to the linger) until it submits or ends."""
        self._announced += 1
        return self._expecting(work)

    async def _expecting(self, work: Awaitable[T]) -> T:
        mark = _Expected(self)
        reset = _expected.set(mark)
        try:
            return await work
        finally:
            _expected.reset(reset)
            if not mark.submitted:
                self._arrived()

    def _arrived(self) -> None:
        self._announced -= 1
        self._arrival.set()

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        if not self._waiting:
            self._since = loop.time()
        self._waiting.append((item, future))
        self._submitted_at[future] = loop.time()
        mark = _expected.get()
        if mark is not None and mark.queue is self and not mark.submitted:
            mark.submitted = True
            self._arrived()
        if self._writing < self._writers:
            # A writer of its own rather than the submitter's task: a submitter that led every
            # batch would not get back to its own work (the next event of its partition) while
            # others keep submitting. The task inherits the submitter's context (e.g. a job's lease).
            self._writing += 1
            task = asyncio.create_task(self._drain(), name=f"group-commit:{self._what}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                await self._linger_for_announced()
                batch, taken = self._take()
                if not batch:
                    # Every item waiting writes keys a batch being written holds: that batch's
                    # writer takes them once it is done.
                    break
                try:
                    await self._flush(batch)
                finally:
                    self._held.subtract(taken)
                    self._held = +self._held  # drop the keys no batch holds any more
        except BaseException:
            for _, waiting in self._waiting:
                _fail(waiting, RuntimeError(f"{self._what} interrupted"))
                self._submitted_at.pop(waiting, None)
            self._waiting = []
            raise
        finally:
            # No await between the queue running dry and this: `submit` cannot slip in between.
            self._writing -= 1

    async def _linger_for_announced(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = self._since + self._linger
        while self._announced > 0 and loop.time() < deadline:
            self._arrival.clear()
            try:
                await asyncio.wait_for(self._arrival.wait(), timeout=deadline - loop.time())
            except TimeoutError:
                return

    def _take(self) -> tuple[list[tuple[Item, asyncio.Future[Result]]], set[str]]:
        """The batch to write next, and its keys. With `keys`, an item whose keys a batch being
        written holds waits for a later batch: batches written at the same time never write the
        same keys (they would only wait for each other, or conflict), and a batch of items that
        overlap one another is still one transaction."""
        if self._keys is None:
            batch, self._waiting = self._waiting, []
            return batch, set()
        batch, later, taken = [], [], set()
        for entry in self._waiting:
            item_keys = set(self._keys(entry[0]))
            if any(key in self._held for key in item_keys):
                later.append(entry)
            else:
                batch.append(entry)
                taken |= item_keys
        self._waiting = later
        self._since = asyncio.get_running_loop().time()
        self._held.update(taken)
        return batch, taken

    async def _flush(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        waited = metrics.GROUP_COMMIT_WAIT.labels(self._what)
        for _, future in batch:
            waited.observe(started - self._submitted_at.pop(future, started))
        try:
            try:
                with metrics.GROUP_COMMIT_WRITE.labels(self._what).time():
                    results = await self._write([item for item, _ in batch])
            except Exception as error:
                if len(batch) == 1 or self._not_the_items_fault(error):
                    raise
                log.warning("group_commit.batch_split", what=self._what, size=len(batch), exc_info=True)
                for item, future in batch:
                    await self._resolve(future, item)
                return
        except BaseException as error:
            for _, future in batch:
                _fail(future, error if isinstance(error, Exception) else RuntimeError(f"{self._what} interrupted"))
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # its submitter may have been cancelled meanwhile
                future.set_result(result)

    async def _resolve(self, future: asyncio.Future[Result], item: Item) -> None:
        try:
            (result,) = await self._write([item])
        except Exception as error:
            if self._not_the_items_fault(error):
                raise
            _fail(future, error)
        else:
            if not future.done():
                future.set_result(result)


def _fail(future: "asyncio.Future[Any]", error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
