"""What the development server's daemon (infra/secantus_daemon.py) knows from one statement to the
next, where SecantusDB works it out again for every statement (issue 11: py-spy `--gil` on the
server in a 2,000-order run of `make bench`):

- `ValidUpdatePaths`: that an update's operators and paths are valid, walked twice per update
  statement and in time that grows with the square of its paths (5.8 % of the server's time);
- `PlainCollections`: that a collection is neither capped nor time series, read from storage and
  decoded three times per write statement (5.2 %), the options an insert, update or find reads
  once more to learn whether the collection has a validator or is a view (4.6 %), and its index
  catalog, read from storage and decoded by every write statement and find (7.8 %);
- `tree_copy`: that a document decoded from BSON is a tree of dicts, lists and values nothing
  changes in place, which `copy.deepcopy` works out value by value, with a memo, for every update
  and kept options (5.2 %).

The first two keep answers SecantusDB itself gave, and an answer that could change is never kept
past the command that could change it; the third knows what a document is made of."""

import copy
import threading
import types
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar

from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Timestamp
from secantus import commands, server, transactions, update
from secantus.storage import Storage

# Shapes of valid updates kept at most (a payday rush has a few dozen; a shape that names array
# positions or map keys in its paths makes more, and the memory is then started again).
SHAPES_KEPT = 4096


class ValidUpdatePaths:
    """`_validate_update_paths` (unknown operators, empty paths, two operators on one path: mongod's
    codes 9, 56 and 40) answers from the update's shape alone: its operators in order, and the
    paths each names. A shape found valid is kept; an invalid one is checked every time, so its
    error is SecantusDB's own. `$rename` names paths in its values too: never kept."""

    def __init__(self, validate: Callable[[Mapping[str, Any]], tuple[str, str] | None]) -> None:
        self._validate = validate
        self._valid: set[tuple[Any, ...]] = set()

    def __call__(self, spec: Mapping[str, Any]) -> tuple[str, str] | None:
        shape = _shape(spec)
        if shape is not None and shape in self._valid:
            return None
        conflict = self._validate(spec)
        if conflict is None and shape is not None:
            if len(self._valid) >= SHAPES_KEPT:
                self._valid = set()
            self._valid.add(shape)
        return conflict

    def install(self) -> None:
        # Looked up as a global by both callers (validate_update_doc and apply_update).
        update._validate_update_paths = self


def _shape(spec: Mapping[str, Any]) -> tuple[Any, ...] | None:
    shape = []
    for operator, paths in spec.items():
        if operator == "$rename":
            return None
        shape.append((operator, tuple(paths) if isinstance(paths, Mapping) else None))
    return tuple(shape)


# Commands that never make a collection capped or time series. Any other command (create, collMod,
# convertToCapped, renameCollection, drop, applyOps, an aggregation with $out or $merge, a command
# this list does not name) forgets everything known, before it runs and again once it is done.
UNCHANGING = frozenset(
    {
        "insert",
        "update",
        "delete",
        "find",
        "findAndModify",
        "getMore",
        "count",
        "distinct",
        "commitTransaction",
        "abortTransaction",
        "endSessions",
        "killCursors",
        "hello",
        "isMaster",
        "ismaster",
        "ping",
        "buildInfo",
        "serverStatus",
        "listIndexes",
        "listCollections",
    }
)
WRITES = frozenset({"insert", "update", "delete", "findAndModify"})
# Commands whose only questions about a collection's options are whether it has a validator, is a
# view, or is capped: they are answered from what is known (`PlainCollections.options`). Any other
# command (listCollections, collStats, collMod, ...) reads the options from storage, uuid and all.
ASK_VALIDATOR_OR_VIEW = frozenset({"insert", "update", "delete", "find", "findAndModify", "count"})
ENDS_TRANSACTION = frozenset({"commitTransaction", "abortTransaction"})
# Open transactions whose start is remembered, at most (more are abandoned ones: see `dispatching`).
SESSIONS_KEPT = 10_000
Answer = TypeVar("Answer")
Index = tuple[str, dict[str, Any], dict[str, Any]]  # an index as its catalog holds it: name, keys, options
_MISSING = object()


class PlainCollections:
    """Collections known to be neither capped nor time series, and the options the commands that
    only ask whether a collection has a validator or is a view read of it. A write statement asks
    storage for its collection's options up to four times (may a transaction write it, must it
    evict to stay within a cap, is it time series, has it a validator), each a read of the catalog
    table and a BSON decode; mongod keeps its catalog in memory.

    An answer is kept only if no command that could change it started while it was read
    (`_changes` counts them: `remembered`), and everything kept is forgotten when such a command
    starts and when it ends. A collection that exists only inside a transaction, or not at all, is
    plain as well (SecantusDB answers both the same), so a transaction rolled back changes nothing
    known. Options and index catalogs are kept as read by a command outside a transaction, or in a
    transaction begun since the last command that could change them: a transaction reads as of its
    start, which may be older than what others read.

    A transaction that changes a catalog (it runs a command that may, or marks an index multikey:
    an insert's or update's first array in an indexed field) is served nothing kept from then on:
    it must see its own changes, which nobody else sees until it commits, and everything kept is
    forgotten when it commits or aborts. A command outside a transaction that marks an index is
    served nothing kept until it ends, when everything is forgotten (its mark is stored with the
    statement that made it)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str], Any] = {}
        self._changes = 0
        self._lock = threading.Lock()
        # The command this thread's dispatch runs: its name, its transaction's session (None outside
        # one), and whether it marked an index multikey.
        self._running = threading.local()
        self._changing: set[Any] = set()  # the sessions whose open transaction changed a catalog
        self._started: dict[Any, int] = {}  # the sessions' open transactions: `_changes` when each began

    def remembered(self, key: tuple[str, str, str], read: Callable[[], Answer], keep: Callable[[Answer], bool] = bool) -> Answer:
        """What is known of `key`, or `read()` from storage and then kept if `keep` says so, unless
        a command that could change it started meanwhile."""
        if self._sees_its_own_changes():
            return read()
        found = self._known.get(key, _MISSING)
        if found is not _MISSING:
            return found
        since = self._changes
        answer = read()
        if keep(answer):
            with self._lock:
                if since == self._changes:
                    self._known[key] = answer
        return answer

    def plain(self, key: tuple[str, str, str], read: Callable[[], bool]) -> bool:
        """Whether the collection `key` names is plain in `key[2]`'s respect (only a yes is kept)."""
        return self.remembered(key, read)

    def forget(self) -> None:
        with self._lock:
            self._changes += 1
            self._known = {}

    def _sees_its_own_changes(self) -> bool:
        running = self._running
        return getattr(running, "marked", False) or getattr(running, "session", None) in self._changing

    def _reads_the_latest(self) -> bool:
        """Whether what the running command reads now is what any command would: it runs outside a
        transaction, or in one begun since the last forgetting."""
        running = self._running
        return not getattr(running, "in_transaction", False) or self._started.get(running.session) == self._changes

    def dispatching(self, dispatch: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def run(doc: dict[str, Any], ctx: Any) -> dict[str, Any]:
            running = self._running
            outer = tuple(getattr(running, name, None) for name in ("command", "in_transaction", "session", "marked"))
            name = next(iter(doc), "")
            # A transaction's statements carry `autocommit: false` (retryable writes a txnNumber alone).
            in_transaction = doc.get("autocommit") is False
            running.command, running.in_transaction, running.marked = name, in_transaction, False
            running.session = _session(doc) if in_transaction else None
            if in_transaction and doc.get("startTransaction"):
                if len(self._started) >= SESSIONS_KEPT:
                    self._started = {}  # abandoned transactions' (their statements only read storage then)
                self._started[running.session] = self._changes
            try:
                if _unchanging(doc):
                    return dispatch(doc, ctx)
                if running.session is not None:
                    self._changing.add(running.session)
                self.forget()
                try:
                    return dispatch(doc, ctx)
                finally:
                    self.forget()
            finally:
                if running.marked:
                    self.forget()
                if name in ENDS_TRANSACTION:
                    self._started.pop(running.session, None)
                    if running.session in self._changing:
                        self._changing.discard(running.session)
                        self.forget()
                running.command, running.in_transaction, running.session, running.marked = outer

        return run

    def indexes(self, read: Callable[[Storage, str, str], Iterable[Index]]) -> Callable[[Storage, str, str], Iterator[Index]]:
        """`_iter_indexes`: a collection's index catalog, which every write statement and find reads
        from storage, decoding each index's options (7.8 % of the server's time); copies handed out,
        as by the catalog a statement keeps (infra/secantus_daemon.py)."""

        def run(storage: Storage, db: str, coll: str) -> Iterator[Index]:
            kept = self.remembered((db, coll, "indexes"), lambda: list(read(storage, db, coll)), keep=lambda _: self._reads_the_latest())
            return iter([(name, dict(key_spec), dict(options)) for name, key_spec, options in kept])

        return run

    def marking(self, mark: Callable[..., set[str]]) -> Callable[..., set[str]]:
        """`_maybe_mark_multikey`: a mark (or an index found marked since the statement began) is a
        change of the catalog by the running command (see the class)."""

        def run(storage: Storage, db: str, coll: str, doc: Any, indexes: Any, already: set[str]) -> set[str]:
            before = len(already)
            marked = mark(storage, db, coll, doc, indexes, already)
            if len(marked) > before:
                session = getattr(self._running, "session", None)
                if session is not None:
                    self._changing.add(session)
                else:
                    self._running.marked = True
                self.forget()
            return marked

        return run

    def options(self, get: Callable[[Storage, str, str], dict[str, Any]]) -> Callable[[Storage, str, str], dict[str, Any]]:
        """`get_collection_options`, which every insert, update and find asks once more for a
        validator or a view's definition (4.6 % of the server's time): kept for those commands, and
        a copy handed out, so that no caller changes what is kept."""

        def run(storage: Storage, db: str, coll: str) -> dict[str, Any]:
            if getattr(self._running, "command", None) not in ASK_VALIDATOR_OR_VIEW:
                return get(storage, db, coll)
            return tree_copy(
                self.remembered((db, coll, "options"), lambda: get(storage, db, coll), keep=lambda _: self._reads_the_latest())
            )

        return run

    def transaction_gate(self, reason: Callable[..., str | None]) -> Callable[..., str | None]:
        """`_txn_unsupported_reason`: its only question about a write's collection is whether it is capped."""

        def gate(name: str, doc: dict[str, Any], ctx: Any) -> str | None:
            collection = doc.get(name)
            if name not in WRITES or not isinstance(collection, str):
                return reason(name, doc, ctx)
            answer: str | None = None

            def allowed() -> bool:
                nonlocal answer
                answer = reason(name, doc, ctx)
                return answer is None

            self.plain((ctx.db_name, collection, "capped"), allowed)
            return answer

        return gate

    def capped_bounds(self, enforce: Callable[..., Any]) -> Callable[..., Any]:
        """`_enforce_capped_bounds_locked`: nothing to evict from a collection that is not capped."""

        def run(storage: Storage, db: str, coll: str, *args: Any, **kwargs: Any) -> Any:
            if self.plain((db, coll, "capped"), lambda: not (storage._coll_options(db, coll) or {}).get("capped")):
                return [], []
            return enforce(storage, db, coll, *args, **kwargs)

        return run

    def time_series(self, is_time_series: Callable[[Storage, str, str], bool]) -> Callable[[Storage, str, str], bool]:
        def run(storage: Storage, db: str, coll: str) -> bool:
            return not self.plain((db, coll, "timeseries"), lambda: not is_time_series(storage, db, coll))

        return run

    def install(self, storage: type[Storage] = Storage) -> None:
        # The server calls the name it imported; commands calls its own (explain, applyOps, bulkWrite).
        server.dispatch = self.dispatching(server.dispatch)
        commands.dispatch = self.dispatching(commands.dispatch)
        commands._txn_unsupported_reason = self.transaction_gate(commands._txn_unsupported_reason)
        storage._enforce_capped_bounds_locked = self.capped_bounds(storage._enforce_capped_bounds_locked)  # type: ignore[method-assign]
        storage._is_timeseries = self.time_series(storage._is_timeseries)  # type: ignore[method-assign]
        storage.get_collection_options = self.options(storage.get_collection_options)  # type: ignore[method-assign]
        storage._iter_indexes = self.indexes(storage._iter_indexes)  # type: ignore[method-assign]
        storage._maybe_mark_multikey = self.marking(storage._maybe_mark_multikey)  # type: ignore[method-assign]


def _session(doc: dict[str, Any]) -> Any:
    """The session a transaction's statement runs in (its lsid's id)."""
    lsid = doc.get("lsid")
    return lsid.get("id") if isinstance(lsid, Mapping) else None


def _unchanging(doc: dict[str, Any]) -> bool:
    name = next(iter(doc), "")
    if name in UNCHANGING:
        return True
    if name != "aggregate":
        return False
    pipeline = doc.get("pipeline")
    return isinstance(pipeline, list) and not any(
        isinstance(stage, Mapping) and ("$out" in stage or "$merge" in stage) for stage in pipeline
    )


# What a decoded document holds that nothing changes in place: a copy shares them.
ATOMS = frozenset(
    {str, int, float, bool, type(None), bytes, datetime, ObjectId, Int64, Decimal128, Timestamp, Binary, uuid.UUID, MinKey, MaxKey}
)


def tree_copy(value: Any) -> Any:
    """`copy.deepcopy` of a document as decoded from BSON: its dicts and lists copied, its values
    shared (ATOMS), anything else (a Regex, Code with a scope, a subclass of dict) deep-copied. Five
    to six times faster than deepcopy, which looks every value up in its memo and its dispatch
    table; a decoded document has no object in two places for the memo to keep shared."""
    kind = type(value)
    if kind is dict:
        return {key: item if type(item) in ATOMS else tree_copy(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in ATOMS else tree_copy(item) for item in value]
    if kind in ATOMS:
        return value
    return copy.deepcopy(value)


def install_tree_copy() -> None:
    """SecantusDB's updates and transactions copy documents and replies with `copy.deepcopy` (their
    only use of the copy module): they get `tree_copy` instead."""
    copies = types.SimpleNamespace(deepcopy=tree_copy)
    update.copy = copies  # type: ignore[attr-defined]
    transactions.copy = copies  # type: ignore[attr-defined]
