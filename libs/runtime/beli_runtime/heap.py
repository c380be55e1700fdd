"""The garbage collector of a long-running process (issue 11).

CPython's cyclic collector runs a full pass over every object the process holds whenever enough
objects have outlived two younger passes. A started service holds a few hundred thousand objects
that live as long as it does (modules, classes, routes, pydantic's validators, the settings), and
each full pass walked them all: 100–225 ms of a service's event loop at a time, a few times a
minute under a payday rush, every request and event in flight waiting (measured with gc.callbacks
in a 2,000-order run at 25 orders/s: orders' longest pass 201 ms, notifications' 225 ms, the
database server's 113 ms). Young passes came every 700 new objects: 1,454 of them in orders in
that run, each walking the objects of the requests and events then in flight.

`settle()`, once the process has started, collects and then freezes what is left (Python's
`gc.freeze`: those objects are never walked again; they are the process's own and live as long as
it does, and one that became garbage in a cycle after all would stay in memory), and lets young
passes come every YOUNG_OBJECTS new objects, so that most of what a request or an event creates
is freed by its reference count before any pass walks it. Cyclic garbage created after the start
is collected as before, only found later."""

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

# New objects (less those freed) between young passes: CPython's default is 700.
YOUNG_OBJECTS = 10_000
App = TypeVar("App")


_settled = False


def settle() -> None:
    """Freeze what a started process holds and space the young passes (see the module). Once per
    process: a test process starts many apps, and each settling would freeze the objects the tests
    then held, some of which would never be freed."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, middle, old)


def settled(lifespan: Callable[[App], AbstractAsyncContextManager[None]]) -> Callable[[App], AbstractAsyncContextManager[None]]:
    """`lifespan`, then `settle()` once it has started the app."""

    @asynccontextmanager
    async def run(app: App) -> AsyncIterator[None]:
        async with lifespan(app):
            settle()
            yield

    return run
