"""A watchdog for work that should take seconds: when it has not finished after `after` seconds,
log where it is waiting (its coroutine stack), again every `after` seconds, and let it go on.

A consumer handles its events one at a time and a job runs one step at a time, so one call that
never returns stops everything behind it, silently. This makes such a stall name its place."""

import asyncio
import traceback
from collections.abc import Awaitable
from typing import Any, TypeVar

from beli_runtime.logs import get_logger

T = TypeVar("T")
log = get_logger(__name__)


async def watched(work: Awaitable[T], what: str, *, after: float = 60.0, **context: Any) -> T:
    task = asyncio.ensure_future(work)
    waited = 0.0
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=after)
            if done:
                return task.result()
            waited += after
            log.warning("watchdog.still_running", what=what, seconds=round(waited), stack=where(task), **context)
    except asyncio.CancelledError:
        task.cancel()
        raise


def where(task: asyncio.Task[Any] | asyncio.Future[Any]) -> str:
    """The innermost frames a task is suspended in (its await chain), newest last."""
    if not isinstance(task, asyncio.Task):
        return ""
    frames = task.get_stack(limit=None)
    coroutine: Any = task.get_coro()
    # get_stack shows only the task's own frame: follow the awaits down to where it really waits.
    chain = []
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "ag_frame", None)
        if frame is None:
            break
        chain.append(frame)
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "ag_await", None)
    lines = traceback.format_list(traceback.StackSummary.extract((f, f.f_lineno) for f in (chain or frames)))
    return "".join(lines[-12:])[-3000:]
