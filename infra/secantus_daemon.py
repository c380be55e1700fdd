"""SecantusDB's daemon (`python -m secantus`), with ten of mongod's behaviours it lacks: a background
reaper of abandoned transactions, a cost per write that does not grow with the writes before it,
`find_one_and_update` by `_id` that reads one document, not the collection (`id_lookup_first`),
transactions that do not wait for each other's statements (`prune_without_waiting`), sweeps for
expired transactions and sessions once a second, not before every statement
(`at_most_every_second`), commands that do not wait for the storage's lock to learn whether to
profile (`ProfileSettings`), an index catalog that a write reads once, not for every step of every
document (`CatalogPerStatement`), a TTL sweep that lets go of what it read once it is done
(`sweep_then_let_go`), transactions that let go of the pages they read between their statements
(`let_go_between_statements`), and updates that rewrite only the index entries they change
(`IndexEntriesByChange`); and without the oplog, which only change streams read and no service of
ours opens (`without_oplog`). What it knows from one statement to the next (valid update shapes,
plain collections) is in infra/secantus_known.py.

SecantusDB aborts a transaction left idle past its lifetime (60 s, mongod's
`transactionLifetimeLimitSeconds`) only when another transaction's statement comes by, while a
plain write to a document that the abandoned transaction wrote retries without end. So when a
service is SIGKILLed mid-transaction and the system then goes quiet, the restarted service's
first plain write to that document (a job's lease, say) waits forever; mongod's reaper runs on its
own and ends the wait after the lifetime. This runs the same sweep every `REAP_EVERY_SECONDS`.

Retryable-write records (kept 30 min, at most 10,000, so that a driver's retry after a network error
is answered instead of applied twice) are pruned by SecantusDB on every retryable write and look-up
by scanning all of them, and once there are 10,000 (about 300 orders into a payday rush) by sorting
all of them: every plain write then costs milliseconds more, and a 2,000-order run slowed from about
9 to 3 paid orders/s with the server's one core busy (py-spy on the server). They are stored in the
order they were written, so dropping the oldest first until the rest are fresh and within the cap
is the same pruning at a cost that does not grow. Started by infra/mongo_server.py with the daemon's
own arguments."""

import contextlib
import functools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bson
from secantus import cli, transactions, update
from secantus.query import matches
from secantus.server import SecantusDBServer
from secantus.sessions import SessionRegistry
from secantus.storage import Storage, _id_point_lookup_keys
from secantus.transactions import TransactionRegistry, TxnState

from beli_runtime import heap

REAP_EVERY_SECONDS = 1.0
# Sweeps for expired transactions and sessions run at most this often (`at_most_every_second`).
SWEEP_EVERY_SECONDS = 1.0


def reap_forever(server: SecantusDBServer) -> None:
    while True:
        time.sleep(REAP_EVERY_SECONDS)
        server.transactions.prune_expired()


def start_with_reaper(start: Callable[[SecantusDBServer], None]) -> Callable[[SecantusDBServer], None]:
    """The server, then its reaper; then what the started server holds is frozen (beli_runtime.heap:
    its full garbage collections walked it all, 113 ms at a time under a payday rush)."""

    def start_then_reap(server: SecantusDBServer) -> None:
        start(server)
        threading.Thread(target=reap_forever, args=(server,), name="transaction-reaper", daemon=True).start()
        heap.settle()

    return start_then_reap


def prune_retryable_oldest_first(registry: TransactionRegistry) -> None:
    """SecantusDB's `_prune_retryable_locked` (same records dropped: past their lifetime, then the
    oldest over the cap), reading only the records it drops and the first it keeps."""
    records = registry._retryable
    fresh_from = registry._time() - transactions._RETRYABLE_RECORD_LIFETIME_SECONDS
    while records:
        oldest = next(iter(records))
        if records[oldest][1] >= fresh_from and len(records) <= transactions._RETRYABLE_RECORD_MAX:
            return
        del records[oldest]


def prune_without_waiting(registry: TransactionRegistry) -> int:
    """SecantusDB's `_prune_locked` (the same transactions reaped: in progress and idle past their
    lifetime), without taking the lock of a transaction that is not due. SecantusDB's takes every
    transaction's lock in turn, and a transaction holds its lock while one of its statements, or its
    commit, runs; as the sweep runs under the registry's lock before every statement and commit,
    each of them waited for whichever statement was running, whatever transaction it belonged to:
    past some 700 orders of a payday rush the server was half idle while every transaction queued
    (py-spy: 13.5 % of its threads waiting in `for_statement`). A transaction's state and last use
    only move forward, so one that does not look due without its lock is not due."""
    cutoff = registry._time() - registry._lifetime
    reaped = 0
    for transaction in registry._txns.values():
        if transaction.state is not TxnState.IN_PROGRESS or transaction.last_use >= cutoff:
            continue
        with transaction.mutex:
            if transaction.state is TxnState.IN_PROGRESS and transaction.last_use < cutoff:
                registry._rollback_quietly(transaction)
                transaction.state = TxnState.ABORTED
                reaped += 1
    return reaped


def at_most_every_second(sweep: Callable[[Any], int]) -> Callable[[Any], int]:
    """A registry's sweep for what expired (`_prune_locked`: of transactions, called before every
    statement, commit and abort; of sessions, before every command that names one), run at most
    once every SWEEP_EVERY_SECONDS of the registry's own clock. Each sweep looks at everything the
    registry holds, a few hundred sessions and their transactions in a payday rush (py-spy `--gil`
    on the server: 2.4 % of its time), to find what expires after 60 s (a transaction) or 30 min (a
    session). The reaper sweeps the transactions every REAP_EVERY_SECONDS anyway; a sweep skipped
    here reaps the same, at most a second later. Called under the registry's lock, as the sweep."""

    def sweep_now_and_then(registry: Any) -> int:
        now = registry._time()
        if now < getattr(registry, "_next_sweep", now):
            return 0
        registry._next_sweep = now + SWEEP_EVERY_SECONDS
        return sweep(registry)

    return sweep_now_and_then


class ProfileSettings:
    """SecantusDB reads the database's profiling level from its storage after every command, under
    the lock that every read and write of the storage takes: each command, once done, queued
    behind whatever held it (py-spy: 7.9 % of the server's threads waiting in `get_profile` late in
    a 2,000-order run). The levels change only through the `profile` command (`set_profile`), so
    they are kept here, read once per database and forgotten when set."""

    def __init__(self, get: Callable[..., dict[str, Any]], set_: Callable[..., None]) -> None:
        self._get, self._set = get, set_
        self._known: dict[str, dict[str, Any]] = {}
        # Not the storage's lock: held only on a miss (a first command, or after a change).
        self._lock = threading.Lock()

    def get(self, storage: Storage, db: str) -> dict[str, Any]:
        with self._lock:
            if db not in self._known:
                self._known[db] = self._get(storage, db)
            return dict(self._known[db])

    def set(self, storage: Storage, db: str, **settings: Any) -> None:
        with self._lock:
            self._known.pop(db, None)
            self._set(storage, db, **settings)

    def install(self) -> None:
        Storage.get_profile = lambda storage, db: self.get(storage, db)  # type: ignore[method-assign]
        Storage.set_profile = lambda storage, db, **settings: self.set(storage, db, **settings)  # type: ignore[method-assign]


def id_lookup_first(original: Callable[..., list[int] | None]) -> Callable[..., list[int] | None]:
    """SecantusDB's `_try_index_id_keys` (which documents a write, or an indexed find, reads),
    answering a filter that names its `_id` (`{_id: x}`, `$eq`, `$in`) by those documents alone,
    whatever else the filter holds. SecantusDB does so only for a filter of `_id` alone, and gives
    up on any filter with a top-level operator: `findAndModify` re-asserts its query as
    `{_id: <found>, $and: [<query>]}`, so every `find_one_and_update` scanned the whole collection
    on its write (23 ms at 5,000 documents against 0.5 ms for `update_one` by `_id`). The documents
    read are still matched against the whole filter, so what a statement matches is unchanged."""

    def lookup(storage: Storage, db: str, coll: str, filter: dict[str, Any], *, collation: Any = None) -> list[int] | None:
        if filter and "_id" in filter and not storage._is_timeseries(db, coll):
            keys = _id_point_lookup_keys(filter["_id"])
            if keys is not None:
                recordids = [storage._doc_recordid(db, coll, key) for key in keys]
                return [recordid for recordid in recordids if recordid is not None]
        return original(storage, db, coll, filter, collation=collation)

    return lookup


def sweep_then_let_go(sweep: Callable[..., int]) -> Callable[..., int]:
    """SecantusDB's `prune_ttl_all_collections` (one pass of the TTL sweep), after which the
    sweeping thread lets go of its WiredTiger read snapshot, as a connection's thread does after
    each request. SecantusDB's sweeper kept it while it waited for its next pass, a minute later:
    WiredTiger then keeps, for that minute, every version of every document written after the
    pass, for a reader that never comes. Under a payday rush that is hundreds of versions of each
    product and order: they went to WiredTiger's history store (115,000 inserts into it in one
    minute, against none otherwise: its statistics during a 2,000-order run), every write cost the
    database more, and the rate fell from 25 to 8-10 paid orders/s until the next pass let the
    snapshot go: the "collapse" of earlier runs, which began about a minute after the database
    started, when the first pass ran."""

    def sweep_once(storage: Storage, *args: Any, **kwargs: Any) -> int:
        try:
            return sweep(storage, *args, **kwargs)
        finally:
            storage.release_thread_snapshot()

    return sweep_once


def let_go_between_statements(use: Callable[..., Any]) -> Callable[..., Any]:
    """SecantusDB's `use_user_transaction` (one statement of a multi-document transaction on the
    transaction's own WiredTiger session), after which the transaction's cursors let go of the
    pages they stand on, as mongod's do after every operation. SecantusDB's stayed positioned
    until the commit, each holding a hazard pointer to its page, so a hot page that WiredTiger
    wanted to evict at once (a forced eviction) could not be, while every thread that needed the
    page slept until the attempt gave up, and then tried again. Under a payday rush this lasted up
    to a minute and more: about 5,000 failed forced evictions a second, each blocked by a hazard
    pointer, 2.5 s of sleep a second across the server's threads, and half the commits
    (WiredTiger's statistics, read every second of a 2,000-order run). Only the outermost entry
    lets go: a nested one runs inside a statement that is still using the cursors."""

    @contextlib.contextmanager
    def use_then_let_go(storage: Storage, handle: Any) -> Iterator[None]:
        outermost = getattr(storage._tls, "user_txn", None) is not handle
        with use(storage, handle):
            try:
                yield
            finally:
                if outermost:
                    for cursor in handle.cursors.values():
                        with contextlib.suppress(Exception):  # a cursor of a session WiredTiger has rolled back
                            cursor.reset()

    return use_then_let_go


def without_oplog(init: Callable[..., None]) -> Callable[..., None]:
    """SecantusDB's storage without its oplog. The daemon advertises itself as a one-node replica
    set, as drivers need to run transactions and retryable writes, and SecantusDB then writes an
    oplog entry for every document written, computing an update's description and encoding the
    entry in Python (13 % of the server's Python time in a payday rush, py-spy). The oplog only
    feeds change streams, which no service of ours opens; SecantusDB leaves it out in its own
    standalone mode. Without it a 2,000-order run reached 21.4 paid orders/s against 18.9-19.1 the
    same hour, with the database's CPU per paid order down from 0.043-0.044 s to 0.038 s. A
    production replica set keeps its oplog: this is the development server only."""

    def init_without_oplog(storage: Storage, *args: Any, **kwargs: Any) -> None:
        init(storage, *args, **{**kwargs, "enable_oplog": False})

    return init_without_oplog


# A statement's collections whose catalog must be read from storage again at every look (it marked an
# index multikey: see CatalogPerStatement).
UNCACHED = "uncached"


class CatalogPerStatement:
    """SecantusDB reads a collection's index catalog from its storage, decoding every index's stored
    options, at each step of each document a statement writes: about 17 times per document (valgrind:
    an update of an order, on its collection of 8 indexes, is 13.8 M instructions, and 4.6 M with the
    catalog read once; `bench/write_instructions.py`). mongod keeps its catalog in memory.

    A write statement (an insert's chunk, an update's or a delete's) holds its collection's lock
    while it reads and writes documents, and DDL that changes indexes (`create_index`, `drop_index`)
    takes that lock too: while the lock is held, the catalog can only change by the statement's own
    multikey marks. So, from the moment a statement takes the lock until it lets it go, the catalog is
    read once and kept for that thread and collection. Once the statement has marked an index
    multikey (or seen it marked: rare, once per index), the rest of it reads the storage every time,
    as SecantusDB does: a mark rolled back with a retried attempt must not be believed. Reads before
    the lock, finds, and DDL are left as they are."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _state(self) -> tuple[set[tuple[str, str]], dict[tuple[str, str], Any]]:
        local = self._local
        if not hasattr(local, "statements"):
            local.statements, local.catalogs = set(), {}
        return local.statements, local.catalogs

    def statement(self, write: Callable[..., Any]) -> Callable[..., Any]:
        """A write statement on (db, coll): the lock it takes on the collection keeps the catalog."""

        def run(storage: Storage, db: str, coll: str, *args: Any, **kwargs: Any) -> Any:
            statements, _ = self._state()
            key = (db, coll)
            if key in statements:
                return write(storage, db, coll, *args, **kwargs)
            statements.add(key)
            try:
                return write(storage, db, coll, *args, **kwargs)
            finally:
                statements.discard(key)

        return run

    def lock(self, original: Callable[[Storage, str, str], Any]) -> Callable[[Storage, str, str], Any]:
        """`_coll_lock`: inside a write statement, holding it keeps the collection's catalog."""

        def coll_lock(storage: Storage, db: str, coll: str) -> Any:
            statements, _ = self._state()
            lock = original(storage, db, coll)
            return _Keeping(self, lock, (db, coll)) if (db, coll) in statements else lock

        return coll_lock

    def keep(self, key: tuple[str, str]) -> bool:
        """Start keeping the catalog (False: it is kept already, by an outer holding of the lock)."""
        _, catalogs = self._state()
        if key in catalogs:
            return False
        catalogs[key] = None
        return True

    def forget(self, key: tuple[str, str]) -> None:
        _, catalogs = self._state()
        catalogs.pop(key, None)

    def indexes(self, original: Callable[[Storage, str, str], Any]) -> Callable[[Storage, str, str], Iterator[Any]]:
        """`_iter_indexes`: the kept catalog, read on the first look (copies: callers own what they get)."""

        def read(storage: Storage, db: str, coll: str) -> Iterator[Any]:
            _, catalogs = self._state()
            key = (db, coll)
            kept = catalogs.get(key, UNCACHED)
            if kept == UNCACHED:
                return iter(list(original(storage, db, coll)))
            if kept is None:
                kept = catalogs[key] = list(original(storage, db, coll))
            return iter([(name, dict(key_spec), dict(options)) for name, key_spec, options in kept])

        return read

    def marking(self, original: Callable[..., set[str]]) -> Callable[..., set[str]]:
        """`_maybe_mark_multikey`: after a mark (or an index found marked), the statement reads the storage."""

        def mark(storage: Storage, db: str, coll: str, doc: Any, indexes: Any, already: set[str]) -> set[str]:
            before = len(already)
            marked = original(storage, db, coll, doc, indexes, already)
            if len(marked) > before:
                _, catalogs = self._state()
                if (db, coll) in catalogs:
                    catalogs[(db, coll)] = UNCACHED
            return marked

        return mark

    def install(self, storage: type[Storage] = Storage) -> None:
        for name in (
            "_insert_chunk",
            "_update_matching_chunked",
            "_update_matching_single_txn",
            "_delete_matching_chunked",
            "_delete_matching_single_txn",
        ):
            setattr(storage, name, self.statement(getattr(storage, name)))
        storage._coll_lock = self.lock(storage._coll_lock)  # type: ignore[method-assign]
        storage._iter_indexes = self.indexes(storage._iter_indexes)  # type: ignore[method-assign]
        storage._maybe_mark_multikey = self.marking(storage._maybe_mark_multikey)  # type: ignore[method-assign]


class _Keeping:
    """A collection's lock that keeps its catalog while the outermost holding of it lasts."""

    def __init__(self, catalogs: CatalogPerStatement, lock: Any, key: tuple[str, str]) -> None:
        self._catalogs, self._lock, self._key = catalogs, lock, key
        self._keeping = False

    def __enter__(self) -> Any:
        entered = self._lock.__enter__()
        self._keeping = self._catalogs.keep(self._key)
        return entered

    def __exit__(self, *exc: object) -> Any:
        if self._keeping:
            self._catalogs.forget(self._key)
        return self._lock.__exit__(*exc)


def _stored(document: Any, field: str) -> bytes | None:
    """How `document` stores its top-level `field` (None: absent). Bytes, not `==`: `True == 1` and
    `0.0 == -0.0` in Python, not in an index."""
    return bson.encode({"v": document[field]}) if field in document else None


class IndexEntriesByChange:
    """SecantusDB rewrites every index entry of a document it updates: it deletes the old version's
    entries in every index, then writes the new version's in every index, whatever the update
    changed. mongod writes only the keys that changed. An order has seven indexes besides `_id`,
    and most of its updates change two or three of them (py-spy on the database: 20 % of its Python
    time in `_delete_index_entries` and `_write_index_entries` during a payday rush).

    In an update statement (`_update_matching_single_txn`, `_update_matching_chunked`) the deletion
    of a document's entries is held back until the same document's new entries are written, which
    both loops do next, after writing the document itself; then only the indexes whose entries
    may differ are rewritten (`_changed`): those built from a field the update changed, those whose
    partial filter takes one version and not the other, and every geo, text, hashed or wildcard
    index. Comparing the fields' stored bytes costs less than computing the keys, which is most of
    what an index entry costs SecantusDB. A transaction that fails in between is rolled back (a
    user transaction's failed statement aborts it), and what it held back is dropped with it, so a
    retried attempt starts afresh."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _held(self) -> dict[tuple[str, str, int], tuple[Any, Any, Any]] | None:
        return getattr(self._local, "held", None)

    def statement(self, update: Callable[..., Any]) -> Callable[..., Any]:
        """An update statement: its deletions of index entries are held back (see `transaction`)."""

        def run(storage: Storage, *args: Any, **kwargs: Any) -> Any:
            if self._held() is not None:  # nested: the outer statement holds them
                return update(storage, *args, **kwargs)
            self._local.held = {}
            try:
                return update(storage, *args, **kwargs)
            finally:
                self._local.held = None

        return run

    def transaction(self, batch: Callable[..., Any], delete: Callable[..., None]) -> Callable[..., Any]:
        """`_batch_transaction`, the transaction of a statement's attempt (or of a chunk of it): what
        it held back is dropped if it fails (rolled back), and made before it commits if a document's
        write never came (never in SecantusDB's loops)."""

        @contextlib.contextmanager
        def run(storage: Storage, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with batch(storage, *args, **kwargs) as session:
                try:
                    yield session
                except BaseException:
                    if (held := self._held()) is not None:
                        held.clear()
                    raise
                if held := self._held():
                    for (db, coll, recordid), (doc, indexes, partials) in list(held.items()):
                        delete(storage, db, coll, doc, indexes, partials, recordid=recordid)
                    held.clear()

        return run

    def deleting(self, delete: Callable[..., None]) -> Callable[..., None]:
        def hold(storage: Storage, db: str, coll: str, doc: Any, indexes: Any, partials: Any = None, *, recordid: int) -> None:
            held = self._held()
            if held is None:
                return delete(storage, db, coll, doc, indexes, partials, recordid=recordid)
            earlier = held.pop((db, coll, recordid), None)
            if earlier is not None:  # a second deletion before the write: never in SecantusDB's loops
                delete(storage, db, coll, *earlier, recordid=recordid)
            held[(db, coll, recordid)] = (doc, indexes, partials)
            return None

        return hold

    def writing(self, write: Callable[..., None], delete: Callable[..., None]) -> Callable[..., None]:
        def write_changed(storage: Storage, db: str, coll: str, new: Any, indexes: Any, partials: Any = None, *, recordid: int) -> None:
            held = self._held()
            old = held.pop((db, coll, recordid), None) if held is not None else None
            if old is None:
                return write(storage, db, coll, new, indexes, partials, recordid=recordid)
            doc, old_indexes, old_partials = old
            known_partials = storage._partial_filters(db, coll) if partials is None else partials
            same = functools.cache(lambda field: _stored(doc, field) == _stored(new, field))
            unchanged = {index[0] for index in indexes if not self._changed(doc, new, index, known_partials, same)}
            delete(storage, db, coll, doc, [index for index in old_indexes if index[0] not in unchanged], old_partials, recordid=recordid)
            return write(storage, db, coll, new, [index for index in indexes if index[0] not in unchanged], partials, recordid=recordid)

        return write_changed

    @staticmethod
    def _changed(doc: Any, new: Any, index: Any, partials: dict[str, Any], same: Callable[[str], bool]) -> bool:
        """Whether the index's entries for `new` may differ from those for `doc`. An index of plain
        fields (ascending or descending keys) keeps its entries when every top-level field its keys
        are read from is stored the same in both versions, and a partial index also when its filter
        takes both or neither; any other index (geo, text, hashed, wildcard) is rewritten."""
        name, key_spec, _sparse, _unique = index
        fields = set()
        for path, kind in key_spec.items():
            if isinstance(kind, bool) or not isinstance(kind, int | float) or "$**" in path:
                return True
            fields.add(path.split(".", 1)[0])
        if not all(same(field) for field in fields):
            return True
        partial = partials.get(name)
        return partial is not None and matches(doc, partial) != matches(new, partial)

    def install(self, storage: type[Storage] = Storage) -> None:
        delete, write = storage._delete_index_entries, storage._write_index_entries
        for name in ("_update_matching_single_txn", "_update_matching_chunked"):
            setattr(storage, name, self.statement(getattr(storage, name)))
        storage._batch_transaction = self.transaction(storage._batch_transaction, delete)  # type: ignore[method-assign]
        storage._delete_index_entries = self.deleting(delete)  # type: ignore[method-assign]
        storage._write_index_entries = self.writing(write, delete)  # type: ignore[method-assign]


def install() -> None:
    """Everything above, and what infra/secantus_known.py keeps, into SecantusDB's classes."""
    from infra.secantus_known import PlainCollections, ValidUpdatePaths, install_tree_copy

    Storage._try_index_id_keys = id_lookup_first(Storage._try_index_id_keys)  # type: ignore[method-assign]
    # The CLI builds its server inside main(): the reaper joins it when it starts.
    SecantusDBServer.start = start_with_reaper(SecantusDBServer.start)
    TransactionRegistry._prune_retryable_locked = prune_retryable_oldest_first
    TransactionRegistry._prune_locked = at_most_every_second(prune_without_waiting)  # type: ignore[method-assign]
    SessionRegistry._prune_locked = at_most_every_second(SessionRegistry._prune_locked)  # type: ignore[method-assign]
    ProfileSettings(Storage.get_profile, Storage.set_profile).install()
    CatalogPerStatement().install()
    IndexEntriesByChange().install()
    Storage.prune_ttl_all_collections = sweep_then_let_go(Storage.prune_ttl_all_collections)  # type: ignore[method-assign]
    Storage.use_user_transaction = let_go_between_statements(Storage.use_user_transaction)  # type: ignore[method-assign]
    Storage.__init__ = without_oplog(Storage.__init__)  # type: ignore[method-assign]
    ValidUpdatePaths(update._validate_update_paths).install()
    PlainCollections().install()
    install_tree_copy()


if __name__ == "__main__":
    # Run by its path (infra/mongo_server.py, bench/write_cost.py): the repository is not on sys.path.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    install()
    raise SystemExit(cli.main())
