"""A service SIGKILLed in the middle of a transaction must not wedge the one restarted after it.

The killed client's transaction stays open on the server until its lifetime ends (60 s, mongod's
`transactionLifetimeLimitSeconds`); meanwhile a plain write to a document it wrote waits. mongod
reaps such transactions on its own; the development server does so through
infra/secantus_daemon.py, also when no other transaction comes by (a quiet system after a crash,
where a restarted job's first write is to its lease)."""

import contextlib
import subprocess
import sys
import time
import uuid
from typing import Any

from pymongo import MongoClient

ABANDONS_A_TRANSACTION = """
import sys, time
from pymongo import MongoClient
client = MongoClient(sys.argv[1])
leases = client[sys.argv[2]]["leases"]
leases.insert_one({"_id": "settlements", "holder": "killed"})
session = client.start_session()
session.start_transaction()
leases.update_one({"_id": "settlements"}, {"$set": {"fence": 1}}, session=session)
print("in transaction", flush=True)
time.sleep(600)
"""


def test_a_killed_clients_transaction_is_reaped_while_nothing_else_runs(database: str) -> None:
    name = f"beli_reaper_{uuid.uuid4().hex[:8]}"
    killed = subprocess.Popen([sys.executable, "-c", ABANDONS_A_TRANSACTION, database, name], stdout=subprocess.PIPE, text=True)
    try:
        assert killed.stdout is not None and killed.stdout.readline().strip() == "in transaction"
    finally:
        killed.kill()  # SIGKILL: the transaction is neither committed nor aborted
        killed.wait()
    with MongoClient(database, socketTimeoutMS=150_000) as client:
        started = time.monotonic()
        client[name]["leases"].update_one({"_id": "settlements"}, {"$set": {"holder": "restarted"}})
        waited = time.monotonic() - started
        lease = client[name]["leases"].find_one({"_id": "settlements"})
        client.drop_database(name)
    # Ours went through once the transaction's 60 s were up, and the abandoned write (fence) is gone.
    assert lease == {"_id": "settlements", "holder": "restarted"}
    assert waited < 75, f"the write waited {waited:.0f} s for a transaction whose client was killed"
    print(f"\n[reaper] a plain write waited {waited:.1f} s for the killed client's transaction")


def test_retryable_write_records_are_pruned_as_secantusdb_does_without_reading_them_all() -> None:
    """The daemon's pruning keeps exactly the records SecantusDB's own would keep (fresh ones, at
    most the cap, the newest), by dropping the oldest first."""
    from secantus import transactions

    from infra.secantus_daemon import prune_retryable_oldest_first

    cap, lifetime = transactions._RETRYABLE_RECORD_MAX, transactions._RETRYABLE_RECORD_LIFETIME_SECONDS
    clock = [0.0]
    ours, theirs = (transactions.TransactionRegistry(time_func=lambda: clock[0]) for _ in range(2))
    ours._prune_retryable_locked = lambda: prune_retryable_oldest_first(ours)  # type: ignore[method-assign]
    reply = {"ok": 1.0, "n": 1}
    for number in range(cap + 500):  # over the cap, and the first records grow stale meanwhile
        clock[0] = number * (lifetime / cap) * 1.2
        for registry in (ours, theirs):
            registry.record_retryable(b"session", number, b"write", reply)
    assert list(ours._retryable) == list(theirs._retryable) and len(ours._retryable) < cap  # the stale ones went first
    assert len(ours._retryable) <= cap and ours.retryable_reply(b"session", cap + 499, b"write") == reply


def test_a_write_that_names_its_id_reads_that_document_alone_whatever_else_its_filter_holds() -> None:
    """`find_one_and_update` writes with `{_id: <found>, $and: [<query>]}`: SecantusDB read every
    document of the collection for it. With the daemon's look-up by `_id` first it reads the one
    named, and the rest of the filter still decides whether it matches."""
    from secantus.storage import Storage

    from infra.secantus_daemon import id_lookup_first

    storage = Storage(":memory:")
    try:
        storage.insert("shop", "orders", [{"_id": f"o{number}", "status": "awaiting"} for number in range(300)])
        reads: list[int] = []
        scan = storage._scan_docs
        storage._scan_docs = lambda db, coll: reads.append(1) or scan(db, coll)  # type: ignore[method-assign]
        write_filter = {"_id": "o7", "$and": [{"status": {"$in": ["awaiting"]}}]}
        assert len(storage._candidates_iter("shop", "orders", write_filter)) == 300 and reads  # SecantusDB alone

        storage._try_index_id_keys = id_lookup_first(Storage._try_index_id_keys).__get__(storage)  # type: ignore[method-assign]
        reads.clear()
        assert len(storage._candidates_iter("shop", "orders", write_filter)) == 1 and not reads
        assert len(storage._candidates_iter("shop", "orders", {"_id": {"$in": ["o1", "o2", "nobody"]}, "x": 1})) == 2
        paid = storage.update_matching("shop", "orders", write_filter, {"$set": {"status": "paid"}})
        again = storage.update_matching("shop", "orders", write_filter, {"$set": {"status": "paid"}})
        assert (paid["matched"], again["matched"]) == (1, 0)  # the status the query asserts still decides
        assert storage.find_matching("shop", "orders", {"status": "paid"}) == [{"_id": "o7", "status": "paid"}]
    finally:
        storage.close()


def test_a_transactions_statement_does_not_wait_for_another_transactions_running_statement() -> None:
    """Before every statement and commit SecantusDB sweeps for expired transactions, under the
    registry's lock, taking each transaction's own lock, which a transaction holds while a statement
    of its runs: every transaction waited for any running statement. The daemon's sweep reaps the
    same transactions without waiting for those that are not due."""
    import threading

    from secantus.transactions import TransactionRegistry, TxnState

    from infra.secantus_daemon import prune_without_waiting

    def statement_while_another_runs(registry: TransactionRegistry) -> bool:
        running, _ = registry.for_statement(b"running", None, 1, start=True)
        registry.for_statement(b"other", None, 1, start=True)
        assert running is not None
        with running.mutex:  # a statement of `running` is executing
            done = threading.Event()
            threading.Thread(target=lambda: (registry.for_statement(b"other", None, 1, start=False), done.set()), daemon=True).start()
            return done.wait(timeout=2)

    theirs, ours = TransactionRegistry(), TransactionRegistry()
    ours._prune_locked = lambda: prune_without_waiting(ours)  # type: ignore[method-assign]
    assert not statement_while_another_runs(theirs)  # SecantusDB alone: it waited until the other's statement ended
    assert statement_while_another_runs(ours)

    clock = [0.0]
    registry = TransactionRegistry(time_func=lambda: clock[0])
    idle, _ = registry.for_statement(b"idle", None, 1, start=True)
    busy, _ = registry.for_statement(b"busy", None, 1, start=True)
    clock[0] = 30.0
    registry.for_statement(b"busy", None, 1, start=False)
    clock[0] = 61.0  # past the idle one's lifetime, not the busy one's
    assert prune_without_waiting(registry) == 1 and idle is not None and busy is not None
    assert (idle.state, busy.state) == (TxnState.ABORTED, TxnState.IN_PROGRESS)


def test_expired_transactions_and_sessions_are_swept_once_a_second_not_before_every_statement() -> None:
    from secantus.sessions import SessionRegistry
    from secantus.transactions import TransactionRegistry, TxnState

    from infra.secantus_daemon import at_most_every_second, prune_without_waiting

    clock = [0.0]
    swept: list[float] = []

    def counted(registry: TransactionRegistry) -> int:
        swept.append(clock[0])
        return prune_without_waiting(registry)

    registry = TransactionRegistry(time_func=lambda: clock[0])
    registry._prune_locked = lambda: at_most_every_second(counted)(registry)  # type: ignore[method-assign]
    idle, _ = registry.for_statement(b"idle", None, 1, start=True)
    busy, _ = registry.for_statement(b"busy", None, 1, start=True)
    clock[0] = 30.0
    for _ in range(100):
        registry.for_statement(b"busy", None, 1, start=False)
    assert swept == [0.0, 30.0]  # 102 statements, two sweeps
    clock[0] = 59.5  # the idle one is not yet due
    registry.for_statement(b"busy", None, 1, start=False)
    clock[0] = 60.2  # due, but swept 0.7 s ago: the reaper's next sweep, or the next statement's, finds it
    registry.for_statement(b"busy", None, 1, start=False)
    assert idle is not None and busy is not None and idle.state is TxnState.IN_PROGRESS
    clock[0] = 60.6
    registry.prune_expired()  # the reaper
    assert (idle.state, busy.state) == (TxnState.ABORTED, TxnState.IN_PROGRESS)
    assert swept == [0.0, 30.0, 59.5, 60.6]

    sessions = SessionRegistry(idle_ttl_seconds=1800, time_func=lambda: clock[0])
    sessions._prune_locked = lambda: at_most_every_second(SessionRegistry._prune_locked)(sessions)  # type: ignore[method-assign]
    sessions.register(b"a" * 16)
    clock[0] += 1800.5
    sessions.register(b"b" * 16)  # a's 30 min are over: swept
    assert not sessions.is_known(b"a" * 16) and sessions.is_known(b"b" * 16)


def test_profiling_levels_are_known_without_the_storage_lock_and_follow_every_change() -> None:
    import threading

    from secantus.storage import Storage

    from infra.secantus_daemon import ProfileSettings

    storage = Storage(":memory:")
    settings = ProfileSettings(Storage.get_profile, Storage.set_profile)
    try:
        assert settings.get(storage, "shop")["level"] == 0
        settings.set(storage, "shop", level=1, slowms=10)
        assert settings.get(storage, "shop") == {"level": 1, "slowms": 10, "sampleRate": 1.0} == storage.get_profile("shop")
        answered = threading.Event()
        with storage._lock:  # a long read or write of the storage
            threading.Thread(target=lambda: (settings.get(storage, "shop"), answered.set()), daemon=True).start()
            assert answered.wait(timeout=2)
        settings.set(storage, "shop", level=0)
        assert settings.get(storage, "shop")["level"] == 0
    finally:
        storage.close()


def counted_storage(method: str) -> tuple[type[Any], type[Any], list[str]]:
    """SecantusDB's storage recording the collection of every call of its `method`, a subclass of it
    for the daemon's patches, and the record they share."""
    from secantus.storage import Storage

    reads: list[str] = []
    original = getattr(Storage, method)

    def counted(storage: Any, db: str, coll: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(coll)
        return original(storage, db, coll, *args, **kwargs)

    counting = type("Counted", (Storage,), {method: counted})
    return counting, type("Daemons", (counting,), {}), reads


def test_a_write_reads_its_collections_index_catalog_once_and_follows_every_index_change() -> None:
    """SecantusDB decoded a collection's index catalog from storage at each step of each document it
    wrote (7 times for an update by `_id` on a collection of 8 indexes, 17 for an order's update
    with its status in the filter). The daemon's writes read it once per statement, and a statement
    after an index is created, dropped or marked multikey sees the change."""

    from infra.secantus_daemon import CatalogPerStatement

    Counted, Daemons, reads = counted_storage("_iter_indexes")
    CatalogPerStatement().install(Daemons)
    for storage in (Counted(":memory:"), Daemons(":memory:")):
        try:
            for number in range(8):
                storage.create_index("shop", "orders", f"index_{number}", {f"field_{number}": 1}, {})
            storage.insert("shop", "orders", [{"_id": f"o{number}", "status": "awaiting", "tags": "one"} for number in range(20)])
            reads.clear()
            storage.update_matching("shop", "orders", {"_id": "o1", "status": {"$in": ["awaiting"]}}, {"$set": {"status": "paid"}})
            per_update = len(reads)

            storage.create_index("shop", "orders", "by_tags", {"tags": 1}, {})
            storage.update_matching("shop", "orders", {"_id": "o2"}, {"$set": {"tags": ["red", "blue"]}})  # marks by_tags multikey
            storage.insert("shop", "orders", [{"_id": "o99", "tags": ["blue"]}])
            assert storage.index_is_multikey("shop", "orders", "by_tags")
            assert sorted(doc["_id"] for doc in storage.find_matching("shop", "orders", {"tags": "blue"})) == ["o2", "o99"]
            storage.drop_index("shop", "orders", "index_0")
            storage.update_matching("shop", "orders", {"_id": "o3"}, {"$set": {"field_0": 5, "field_1": 7}})
            assert storage.find_matching("shop", "orders", {"field_1": 7}) == [
                {"_id": "o3", "status": "awaiting", "tags": "one", "field_0": 5, "field_1": 7}
            ]
            assert [index["name"] for index in storage.list_indexes("shop", "orders")][:2] == ["_id_", "by_tags"]
        finally:
            storage.close()
        if isinstance(storage, Daemons):
            assert per_update == 1
        else:
            assert per_update > 10  # SecantusDB alone


def _statistic(storage: Any, description: str) -> int:
    """One of WiredTiger's statistics of `storage` (opened by `_with_statistics`)."""
    session = storage._conn.open_session()
    try:
        cursor = session.open_cursor("statistics:", None, None)
        while cursor.next() == 0:
            name, _, value = cursor.get_value()
            if name == description:
                return int(value)
        raise AssertionError(f"WiredTiger has no statistic {description!r}")
    finally:
        session.close()


def _with_statistics(tmp_path: Any, daemons: type) -> dict[str, Any]:
    """SecantusDB's storage and the daemon's (`daemons`, a subclass), each in its own directory with
    WiredTiger's statistics on."""
    import wiredtiger
    from secantus.storage import Storage

    opened = wiredtiger.wiredtiger_open
    wiredtiger.wiredtiger_open = lambda home, config: opened(home, config + ",statistics=(fast)")
    try:
        return {"secantus": Storage(str(tmp_path / "secantus")), "daemon": daemons(str(tmp_path / "daemon"))}
    finally:
        wiredtiger.wiredtiger_open = opened


def test_the_ttl_sweep_keeps_no_versions_for_itself_while_it_waits_for_its_next_pass(tmp_path: Any) -> None:
    """After a pass of the TTL sweep, the documents written until the next pass (a minute later)
    must not be kept in every version for the sweeping thread: SecantusDB's sweeper held its read
    snapshot meanwhile, and under a payday rush WiredTiger's history store filled and the rate
    collapsed until the next pass (`sweep_then_let_go`)."""
    import threading
    from datetime import UTC, datetime

    from secantus.storage import Storage

    from infra.secantus_daemon import sweep_then_let_go

    class Daemons(Storage):  # type: ignore[misc]
        prune_ttl_all_collections = sweep_then_let_go(Storage.prune_ttl_all_collections)

    stores = _with_statistics(tmp_path, Daemons)
    pinned: dict[str, list[int]] = {}
    for name, storage in stores.items():
        try:
            storage.create_index("shop", "idempotency_keys", "expires", {"expires_at": 1}, {"expireAfterSeconds": 3600})
            storage.insert("shop", "idempotency_keys", [{"_id": f"k{n}", "expires_at": datetime.now(UTC)} for n in range(20)])
            storage.insert("shop", "products", [{"_id": "tenun", "stock": 1000}])
            swept, next_pass = threading.Event(), threading.Event()

            def sweeper(storage: Storage = storage, swept: threading.Event = swept, next_pass: threading.Event = next_pass) -> None:
                storage._reset_thread_session()  # as SecantusDB's sweeper begins each pass
                storage.prune_ttl_all_collections()
                swept.set()
                next_pass.wait()  # the thread waits for its next pass, as the sweeper does

            thread = threading.Thread(target=sweeper)
            thread.start()
            swept.wait()
            pinned[name] = []
            for _ in range(2):
                for _ in range(300):  # a rush of sales of one product
                    storage.update_matching("shop", "products", {"_id": "tenun"}, {"$inc": {"stock": -1}})
                storage.release_thread_snapshot()  # as a connection's thread does after each request
                pinned[name].append(_statistic(storage, "transaction: transaction range of IDs currently pinned"))
            next_pass.set()
            thread.join()
        finally:
            storage.close()
    # SecantusDB alone: every sale is kept for the sweeper, more with each. The daemon's: WiredTiger
    # lets the versions go (its count of pinned ids trails the newest by a few dozen at most).
    assert pinned["secantus"][0] >= 300 and pinned["secantus"][1] >= 600, pinned
    assert max(pinned["daemon"]) < 150, pinned
    print(f"\n[ttl sweep] transaction ids pinned after 300 and 600 sales: {pinned}")


def test_a_transaction_between_its_statements_keeps_no_page_from_being_evicted(tmp_path: Any) -> None:
    """While a transaction waits for its client's next statement, WiredTiger must be able to evict
    the pages it read: SecantusDB's transactions kept their cursors on them until the commit, and
    under a payday rush a page WiredTiger had to evict could not be, for a minute at a time, while
    the transactions that needed it slept (`let_go_between_statements`)."""
    from secantus.storage import _NAT_SEQ_TABLE, Storage, _id_key

    from infra.secantus_daemon import let_go_between_statements

    class Daemons(Storage):  # type: ignore[misc]
        use_user_transaction = let_go_between_statements(Storage.use_user_transaction)

    stores = _with_statistics(tmp_path, Daemons)
    counted = ("cache: hazard pointer blocked page eviction", "cache: modified pages evicted")
    blocked: dict[str, int] = {}
    evicted: dict[str, int] = {}
    for name, storage in stores.items():
        try:
            storage.insert("shop", "orders", [{"_id": f"order-{n}", "status": "PENDING"} for n in range(50)])
            transaction = storage.begin_user_transaction()
            with storage.use_user_transaction(transaction):  # its first statement; the client's next is yet to come
                storage.update_matching("shop", "orders", {"_id": "order-7"}, {"$set": {"status": "PAID"}})
            before = [_statistic(storage, counter) for counter in counted]
            # WiredTiger evicts the page that holds the order's entry in the `_id` index, as it must
            # evict a page that has grown too large.
            session = storage._conn.open_session()
            cursor = session.open_cursor(_NAT_SEQ_TABLE, None, "debug=(release_evict=true)")
            cursor.set_key("shop", "orders", _id_key("order-7"))
            assert cursor.search() == 0
            cursor.reset()
            session.close()
            blocked[name], evicted[name] = (_statistic(storage, counter) - was for counter, was in zip(counted, before, strict=True))
            storage.commit_user_transaction(transaction)
            assert storage.find_matching("shop", "orders", {"_id": "order-7"})[0]["status"] == "PAID"
        finally:
            storage.close()
    assert blocked == {"secantus": 1, "daemon": 0}, blocked
    assert evicted["daemon"] == 1, evicted


def _table_rows(storage: Any, table: str) -> list[tuple[Any, Any]]:
    """Every (key, value) WiredTiger holds in `table` (none in a table not created yet: SecantusDB
    creates an oplog shard on its first entry)."""
    session = storage._conn.open_session()
    try:
        try:
            cursor = session.open_cursor(table, None, None)
        except Exception:  # noqa: BLE001 - WiredTiger's error for a missing table
            return []
        rows = []
        while cursor.next() == 0:
            rows.append((tuple(cursor.get_keys()), cursor.get_value()))
        return rows
    finally:
        session.close()


def test_the_development_server_writes_no_oplog_and_still_commits_transactions(tmp_path: Any) -> None:
    """The daemon's storage, built as SecantusDB's server builds it for a replica set, writes no
    oplog entries (`without_oplog`), while what transactions and plain writes store is the same."""
    from secantus.storage import _OPLOG_ALL_TABLES, Storage

    from infra.secantus_daemon import without_oplog

    class Daemons(Storage):  # type: ignore[misc]
        __init__ = without_oplog(Storage.__init__)

    stored, oplog = {}, {}
    for name, kind in {"secantus": Storage, "daemon": Daemons}.items():
        storage = kind(str(tmp_path / name), enable_oplog=True)  # as SecantusDBServer for its replica set
        try:
            storage.insert("shop", "orders", [{"_id": "order-1", "status": "PENDING"}])
            transaction = storage.begin_user_transaction()
            with storage.use_user_transaction(transaction):
                storage.update_matching("shop", "orders", {"_id": "order-1"}, {"$set": {"status": "PAID"}})
                storage.insert("shop", "outbox", [{"_id": "event-1", "type": "OrderPaid"}])
            storage.commit_user_transaction(transaction)
            stored[name] = (storage.find_matching("shop", "orders", {}), storage.find_matching("shop", "outbox", {}))
            oplog[name] = sum(len(_table_rows(storage, table)) for table in _OPLOG_ALL_TABLES)
        finally:
            storage.close()
    assert stored["daemon"] == stored["secantus"] == ([{"_id": "order-1", "status": "PAID"}], [{"_id": "event-1", "type": "OrderPaid"}])
    assert oplog["secantus"] >= 3 and oplog["daemon"] == 0, oplog


def test_an_update_rewrites_only_the_index_entries_it_changes_and_the_indexes_stay_exact(tmp_path: Any) -> None:
    """The daemon's storage writes only the index entries an update changes (`IndexEntriesByChange`),
    and its indexes hold exactly what SecantusDB's hold after the same writes: changed and
    unchanged keys, partial and sparse indexes, arrays, a unique index (also when an update breaks
    it), a collation, many documents at once, in and out of a transaction, then deletes."""
    from secantus.storage import _IDX_ENTRIES_TABLE, _UNIQ_TABLE, IndexConflict, Storage

    from infra.secantus_daemon import IndexEntriesByChange

    class Daemons(Storage):  # type: ignore[misc]
        pass

    IndexEntriesByChange().install(Daemons)
    stores = _with_statistics(tmp_path, Daemons)
    indexes = {
        "status_updated": ({"status": 1, "updated_at": 1}, {}),
        "customer_created": ({"customer": 1, "created_at": -1}, {}),
        "sellers": ({"seller_ids": 1}, {}),
        "reminder": ({"next_reminder_at": 1}, {"sparse": True}),
        "paid": ({"paid_at": 1}, {"partialFilterExpression": {"status": "PAID"}}),
        "number": ({"number": 1}, {"unique": True}),
        "name": ({"name": 1}, {"collation": {"locale": "en", "strength": 2}}),
    }
    entries: dict[str, list[Any]] = {}
    written: dict[str, int] = {}
    for name, storage in stores.items():
        try:
            for index, (keys, options) in indexes.items():
                storage.create_index("shop", "orders", index, keys, options)
            storage.insert(
                "shop",
                "orders",
                [
                    {
                        "_id": f"order-{n}",
                        "number": n,
                        "status": "PENDING",
                        "updated_at": n,
                        "customer": f"shopper-{n % 3}",
                        "created_at": n,
                        "seller_ids": [f"seller-{n % 4}"],
                        "next_reminder_at": n,
                        "name": f"Tenun {n}",
                        "note": "",
                    }
                    for n in range(12)
                ],
            )
            before = _statistic(storage, "cursor: cursor insert calls") + _statistic(storage, "cursor: cursor remove calls")
            for n in range(12):
                storage.update_matching("shop", "orders", {"_id": f"order-{n}"}, {"$set": {"note": f"gift {n}"}})  # no index changes
            storage.update_matching("shop", "orders", {"_id": "order-1"}, {"$set": {"status": "PAID", "paid_at": 5, "updated_at": 20}})
            storage.update_matching(
                "shop", "orders", {"_id": "order-2"}, {"$push": {"seller_ids": "seller-9"}, "$unset": {"next_reminder_at": ""}}
            )
            storage.update_matching("shop", "orders", {"_id": "order-3"}, {"$set": {"name": "TENUN 3"}})  # the same key under the collation
            storage.update_matching("shop", "orders", {"_id": "order-4"}, {"$set": {"number": 40}})
            with contextlib.suppress(IndexConflict):
                storage.update_matching("shop", "orders", {"_id": "order-5"}, {"$set": {"number": 6, "status": "PAID"}})
            storage.update_matching("shop", "orders", {"customer": "shopper-0"}, {"$set": {"status": "SHIPPED"}}, multi=True)
            storage.update_matching("shop", "orders", {"status": "PENDING"}, {"$inc": {"updated_at": 100}}, multi=True)
            transaction = storage.begin_user_transaction()
            with storage.use_user_transaction(transaction):
                storage.update_matching("shop", "orders", {"_id": "order-7"}, {"$set": {"status": "PAID", "paid_at": 9}})
                storage.update_matching("shop", "orders", {"_id": "order-7"}, {"$set": {"note": "paid"}})
            storage.commit_user_transaction(transaction)
            transaction = storage.begin_user_transaction()
            with storage.use_user_transaction(transaction):
                storage.update_matching("shop", "orders", {"_id": "order-8"}, {"$set": {"status": "CANCELLED"}})
            storage.abort_user_transaction(transaction)
            storage.delete_matching("shop", "orders", {"_id": {"$in": ["order-1", "order-2"]}})
            written[name] = _statistic(storage, "cursor: cursor insert calls") + _statistic(storage, "cursor: cursor remove calls") - before
            entries[name] = [_table_rows(storage, table) for table in (_IDX_ENTRIES_TABLE, _UNIQ_TABLE)]
            paid = storage.find_matching("shop", "orders", {"status": "PAID"}, sort={"paid_at": 1}, hint="paid")
            assert [order["_id"] for order in paid] == ["order-7"]
        finally:
            storage.close()
    assert entries["daemon"] == entries["secantus"]
    assert len(entries["daemon"][0]) > 12 * len(indexes) - 20 and entries["daemon"][1]
    assert written["daemon"] < written["secantus"] * 0.6, written
    print(f"\n[index entries] inserts and removes for the same updates: {written}")
