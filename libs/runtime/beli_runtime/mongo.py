"""MongoDB access through PyMongo's async API, and the one way services write atomically."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, OperationFailure, ServerSelectionTimeoutError

T = TypeVar("T")
Session = AsyncClientSession
Database = AsyncDatabase[dict[str, Any]]

# Errors that mean "the database is not reachable right now" rather than "the request is wrong".
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (ConnectionFailure, ServerSelectionTimeoutError)


def connect(url: str) -> AsyncMongoClient[dict[str, Any]]:
    # tz_aware so that datetimes read back compare with the aware ones we write.
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=3000)


async def in_transaction(client: AsyncMongoClient[dict[str, Any]], work: Callable[[Session], Awaitable[T]]) -> T:
    """Run `work` in a multi-document transaction; transient conflicts are retried by PyMongo."""
    async with client.start_session() as session:
        return await session.with_transaction(work)


async def ensure_index(collection: Any, keys: Any, **options: Any) -> None:
    """Create an index, tolerating servers that lack a feature (e.g. TTL sweeps) but not bugs."""
    try:
        await collection.create_index(keys, **options)
    except OperationFailure as error:
        if error.code not in (67, 85, 86):  # CannotCreateIndex, IndexOptionsConflict, IndexKeySpecsConflict
            raise
