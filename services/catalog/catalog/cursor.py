"""Stable cursors for every search sort (signed and opaque: beli_runtime.cursors).

A cursor carries the sort it was made for and the sort key of the last item of the page
(always ending in `_id`, which is unique, so ties never skip or repeat an item). The next page
is "strictly after that key in sort order", which stays right while products are added.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeGuard

from beli_runtime.cursors import REFUSED, BadCursor, cursors
from catalog.domain import MAX_PRICE

__all__ = ["SORTS", "SORT_KEYS", "BadCursor", "Sort", "after", "decode", "encode"]

Sort = Literal["relevance", "newest", "price_asc", "price_desc"]
SORTS: tuple[str, ...] = ("relevance", "newest", "price_asc", "price_desc")

# The fields each sort orders by, with direction (1 ascending, -1 descending). `score` is the
# relevance computed in the query; `created_at` breaks score ties so new products come first.
SORT_KEYS: dict[str, list[tuple[str, int]]] = {
    "relevance": [("score", -1), ("created_at", -1), ("_id", -1)],
    "newest": [("created_at", -1), ("_id", -1)],
    "price_asc": [("price", 1), ("_id", 1)],
    "price_desc": [("price", -1), ("_id", -1)],
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
PURPOSE = "catalog.search"
# Bounds of what this catalog can have produced; anything else is refused, never queried.
_LIMITS = {"price": MAX_PRICE, "score": 1_000}


def encode(sort: str, doc: dict[str, Any]) -> str:
    values = [_to_json(doc[name]) for name, _ in SORT_KEYS[sort]]
    return cursors(PURPOSE).encode({"s": sort, "k": values})


def decode(cursor: str, sort: str) -> list[Any]:
    """The sort key values of the cursor; BadCursor when it is garbled, forged, or made for another sort."""
    body = cursors(PURPOSE).decode(cursor)
    if not isinstance(body, dict) or not isinstance(body.get("k"), list):
        raise BadCursor()
    made_for, values = body.get("s"), body["k"]
    keys = SORT_KEYS.get(sort, [])
    if made_for != sort or len(values) != len(keys):
        raise BadCursor(f"cursor dibuat untuk urutan {made_for!r}, bukan {sort!r}")
    return [_from_json(name, value) for (name, _), value in zip(keys, values, strict=True)]


def after(sort: str, values: list[Any]) -> dict[str, Any]:
    """The filter "strictly after `values` in `sort` order": (a > x) or (a = x and b > y) or ...

    A plain range on the first key is added in front so that an index on it bounds the scan
    (MongoDB and SecantusDB both use it; the `$or` alone would not be index-bounded on SecantusDB).
    """
    keys = SORT_KEYS[sort]
    branches: list[dict[str, Any]] = []
    for depth, (name, direction) in enumerate(keys):
        branch = {prefix: values[i] for i, (prefix, _) in enumerate(keys[:depth])}
        branch[name] = {"$gt" if direction == 1 else "$lt": values[depth]}
        branches.append(branch)
    first, first_direction = keys[0]
    return {first: {"$gte" if first_direction == 1 else "$lte": values[0]}, "$or": branches}


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        # Microseconds since the epoch: exact (MongoDB stores milliseconds) and compact.
        return {"t": (value - _EPOCH) // _MICROSECOND}
    return value


def _from_json(name: str, value: Any) -> Any:
    if name == "created_at":
        micros = value.get("t") if isinstance(value, dict) and set(value) == {"t"} else None
        if not _is_int(micros):
            raise BadCursor()
        try:
            return _EPOCH + micros * _MICROSECOND
        except OverflowError:  # beyond the years 1..9999
            raise BadCursor() from None
    if name == "_id":
        if not isinstance(value, str) or len(value) > 64:
            raise BadCursor(REFUSED)
        return value
    if not _is_int(value) or not 0 <= value <= _LIMITS[name]:
        raise BadCursor()
    return value


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
