"""MongoDB access through PyMongo's async API, and the one way services write atomically."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, OperationFailure, ServerSelectionTimeoutError

from beli_runtime.logs import get_logger

T = TypeVar("T")
log = get_logger(__name__)
Session = AsyncClientSession
Database = AsyncDatabase[dict[str, Any]]
Collection = AsyncCollection[dict[str, Any]]

# Errors that mean "the database is not reachable right now" rather than "the request is wrong".
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (ConnectionFailure, ServerSelectionTimeoutError)
# Server answers that say the same while it stops or a replica set changes primary:
# ShutdownInProgress, PrimarySteppedDown, NotWritablePrimary, InterruptedAtShutdown,
# InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
UNAVAILABLE_CODES = frozenset({91, 189, 10107, 11600, 11602, 13435, 13436})


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` is the database being away (wait and retry) rather than a fault of the
    work itself: a consumer must never dead-letter a good event because of a failover."""
    if isinstance(error, UNAVAILABLE_ERRORS):
        return True
    return isinstance(error, OperationFailure) and (error.code in UNAVAILABLE_CODES or error.has_error_label("RetryableWriteError"))


IDLE_CONNECTION_MS = 60_000


def connect(url: str) -> AsyncMongoClient[dict[str, Any]]:
    # tz_aware so that datetimes read back compare with the aware ones we write. Pooled connections
    # idle for a minute are dropped by the pool itself, before a server or a proxy closes them
    # (SecantusDB after 5 minutes): a quiet service's next operation never meets a closed one.
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=3000, maxIdleTimeMS=IDLE_CONNECTION_MS)


class _Unreachable(Exception):
    """Carries a server-selection timeout out of `with_transaction` without its transient label."""

    def __init__(self, error: ServerSelectionTimeoutError) -> None:
        super().__init__(str(error))
        self.error = error


async def in_transaction(
    client: AsyncMongoClient[dict[str, Any]], work: Callable[[Session], Awaitable[T]], *, restart: Callable[[], None] = lambda: None
) -> T:
    """Run `work` in a multi-document transaction; transient conflicts are retried by PyMongo
    (`restart` is called before each attempt: what an aborted attempt did is not what commits).

    A database that no server selection could reach (for the whole `serverSelectionTimeoutMS`) is
    not: PyMongo would try again for up to 120 s, holding a request that should be answered 503
    at once, or a consumer that waits for the database by itself (`database_unavailable`)."""

    async def attempt(session: Session) -> T:
        restart()
        try:
            return await work(session)
        except ServerSelectionTimeoutError as error:
            raise _Unreachable(error) from error

    async with client.start_session() as session:
        try:
            return await session.with_transaction(attempt)
        except _Unreachable as unreachable:
            raise unreachable.error from None


# The server's code for a write refused by a unique index (`_id` or another): "already there".
DUPLICATE_KEY = 11000


class IndexConflict(Exception):
    """An index of that name or those keys exists with other options: someone must decide which."""


async def drop_index(collection: Any, name: str) -> None:
    """Drop an index no query needs any more (each costs the database on every write of a
    document, issue 11). Idempotent: a missing index or collection is what was wanted."""
    try:
        await collection.drop_index(name)
    except OperationFailure as error:
        if error.code not in (26, 27):  # NamespaceNotFound, IndexNotFound
            raise


async def ensure_index(collection: Any, keys: Any, **options: Any) -> None:
    """Create an index. A server that lacks a feature (CannotCreateIndex, e.g. no TTL sweeps) is
    tolerated with a warning; an existing index with other options is an error, never hidden
    (the old index would silently go on enforcing or not enforcing what the code expects)."""
    try:
        await collection.create_index(keys, **options)
    except OperationFailure as error:
        if error.code in (85, 86):  # IndexOptionsConflict, IndexKeySpecsConflict
            raise IndexConflict(f"index {keys!r} {options!r} on {collection.name} conflicts with an existing one: {error}") from error
        if error.code != 67:  # CannotCreateIndex
            raise
        log.warning("mongo.index_not_supported", collection=collection.name, keys=repr(keys), error=str(error)[:300])
