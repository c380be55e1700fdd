"""Group commit for one job step: the first item submitted is written at once; those submitted
while its transaction runs wait and are written together in the next one, so a busy step writes a
few batches rather than a transaction per item (each taking its turn under the job's lease), and a
quiet one adds no wait. One queue per step: every batch is written under the step's lease (its
fence), never under another caller's. A batch that fails for something other than the database or
the lease is written again one item at a time, so one bad item never holds back the others."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from beli_runtime.logs import get_logger
from payments.refunds import NOT_THE_ITEMS_FAULT

log = get_logger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")


class BatchConflict(Exception):
    """A payment changed between the batch's read and its write (never under snapshot isolation,
    where the write conflicts and the transaction is retried): the batch is written one by one."""


class GroupCommit(Generic[Item, Result]):
    def __init__(self, write: Callable[[Sequence[Item]], Awaitable[list[Result]]], what: str) -> None:
        self._write = write
        self._what = what  # for the log and the error of an interrupted batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flushing = False

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if not self._flushing:
            self._flushing = True
            try:
                while self._waiting:
                    batch, self._waiting = self._waiting, []
                    await self._flush(batch)
            except BaseException:
                for _, waiting in self._waiting:
                    if not waiting.done():
                        waiting.set_exception(RuntimeError(f"{self._what} interrupted"))
                self._waiting = []
                raise
            finally:
                self._flushing = False
        return await future

    async def _flush(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            try:
                results = await self._write([item for item, _ in batch])
            except NOT_THE_ITEMS_FAULT:
                raise
            except Exception:
                if len(batch) == 1:
                    raise
                log.warning("payments.batch_split", what=self._what, size=len(batch), exc_info=True)
                for item, future in batch:
                    await self._resolve(future, item)
                return
        except BaseException as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error if isinstance(error, Exception) else RuntimeError(f"{self._what} interrupted"))
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)

    async def _resolve(self, future: asyncio.Future[Result], item: Item) -> None:
        try:
            (result,) = await self._write([item])
        except NOT_THE_ITEMS_FAULT:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of its own is this item's: its job retries it later
            future.set_exception(error)
        else:
            future.set_result(result)
