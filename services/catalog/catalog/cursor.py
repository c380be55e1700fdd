"""Opaque, stable cursors for every search sort.

A cursor carries the sort it was made for and the sort key of the last item of the page
(always ending in `_id`, which is unique, so ties never skip or repeat an item). The next page
is "strictly after that key in sort order", which stays right while products are added.
"""

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

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


class BadCursor(ValueError):
    pass


def encode(sort: str, doc: dict[str, Any]) -> str:
    values = [_to_json(doc[name]) for name, _ in SORT_KEYS[sort]]
    raw = json.dumps({"s": sort, "k": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, sort: str) -> list[Any]:
    """The sort key values of the cursor; BadCursor when it is garbled or made for another sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
        made_for, values = body["s"], body["k"]
    except (binascii.Error, ValueError, TypeError, KeyError) as error:
        raise BadCursor("cursor tidak dikenali; mulai lagi dari halaman pertama") from error
    keys = SORT_KEYS.get(sort, [])
    if made_for != sort or not isinstance(values, list) or len(values) != len(keys):
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
    if isinstance(value, dict) and set(value) == {"t"} and isinstance(value["t"], int):
        return _EPOCH + value["t"] * _MICROSECOND
    if name == "_id" and not isinstance(value, str):
        raise BadCursor("cursor tidak dikenali; mulai lagi dari halaman pertama")
    if name in ("price", "score") and (not isinstance(value, int) or isinstance(value, bool)):
        raise BadCursor("cursor tidak dikenali; mulai lagi dari halaman pertama")
    if name == "created_at":
        raise BadCursor("cursor tidak dikenali; mulai lagi dari halaman pertama")
    return value
