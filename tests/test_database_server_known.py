"""What the development server's daemon keeps from one statement to the next
(infra/secantus_known.py): it must answer exactly as SecantusDB does, and forget an answer as soon as
a command could change it."""

import copy
import datetime
import uuid
from typing import Any

import bson
import pytest
from bson import Binary, Code, Decimal128, Int64, ObjectId, Regex, Timestamp
from pymongo import MongoClient
from pymongo.errors import OperationFailure, WriteError
from secantus import update

from infra.secantus_known import PlainCollections, ValidUpdatePaths, tree_copy
from tests.test_database_server import counted_storage


def test_a_collection_known_plain_is_capped_or_time_series_as_soon_as_a_command_makes_it_so(database: str) -> None:
    """Through the server the services use: writes to a plain collection (in and out of a
    transaction) are known plain; then the same name is made capped, and time series, and each
    behaves as such at once."""
    name = f"beli_known_{uuid.uuid4().hex[:8]}"
    with MongoClient(database) as client:
        shop = client[name]
        try:
            shop.create_collection("items")
            with client.start_session() as session, session.start_transaction():
                shop["items"].insert_one({"_id": 1}, session=session)
            shop["items"].update_one({"_id": 1}, {"$set": {"seen": True}})

            shop.drop_collection("items")
            shop.create_collection("items", capped=True, size=4096, max=2)
            for number in range(5):
                shop["items"].insert_one({"_id": number})
            assert [doc["_id"] for doc in shop["items"].find()] == [3, 4]  # the oldest evicted
            with pytest.raises(OperationFailure, match="capped"), client.start_session() as session, session.start_transaction():
                shop["items"].insert_one({"_id": 9}, session=session)

            shop.drop_collection("items")
            shop.create_collection("items", timeseries={"timeField": "at"})
            at = {"at": datetime.datetime(2026, 12, 7)}
            shop["items"].insert_one({"_id": 1, **at})
            shop["items"].insert_one({"_id": 1, **at})  # time series keep no unique _id
            assert shop["items"].count_documents({}) == 2
        finally:
            client.drop_database(name)


def test_writes_to_a_plain_collection_read_its_options_once_until_a_command_changes_it() -> None:
    Counted, Daemons, reads = counted_storage("_coll_options")
    known = PlainCollections()
    Daemons._enforce_capped_bounds_locked = known.capped_bounds(Counted._enforce_capped_bounds_locked)  # type: ignore[method-assign]
    Daemons._is_timeseries = known.time_series(Counted._is_timeseries)  # type: ignore[method-assign]
    per_insert = {}
    # Without the oplog, as the daemon runs (its records name the collection's uuid, read from the options).
    for storage in (Counted(":memory:", enable_oplog=False), Daemons(":memory:", enable_oplog=False)):
        try:
            storage.insert("shop", "orders", [{"_id": "o0"}])
            reads.clear()
            for number in range(1, 6):
                storage.insert("shop", "orders", [{"_id": f"o{number}"}])
                storage.update_matching("shop", "orders", {"_id": f"o{number}"}, {"$set": {"paid": True}})
            per_insert[type(storage)] = len(reads) / 5
            storage.create_collection("shop", "log", {"capped": True, "size": 4096, "max": 2})
            known.forget()  # what the `create` command does around itself (dispatching)
            for number in range(4):
                storage.insert("shop", "log", [{"_id": number}])
            assert [doc["_id"] for doc in storage.find_matching("shop", "log", {})] == [2, 3]
        finally:
            storage.close()
    assert per_insert[Counted] >= 2 and per_insert[Daemons] == 0, per_insert


def test_inserts_updates_and_finds_read_a_collections_options_once_until_a_command_changes_them() -> None:
    """They ask only whether it has a validator or is a view; a catalog command gets storage's own
    answer every time, and a command that may change the options makes the next one read them.
    What storage answers a transaction not known to have begun since then is not kept."""
    known = PlainCollections()
    reads: list[str] = []

    def get(storage: Any, db: str, coll: str) -> dict[str, Any]:
        reads.append(coll)
        return {"uuid": uuid.uuid4(), "validator": {"paid": {"$type": "bool"}}}

    options = known.options(get)
    run = known.dispatching(lambda doc, ctx: options(None, "shop", "orders"))  # type: ignore[arg-type]
    in_a_transaction = {"insert": "orders", "txnNumber": 1, "autocommit": False}
    run(in_a_transaction, None)
    run(in_a_transaction, None)
    assert reads == ["orders"] * 2  # read for a transaction, which may yet roll the collection back: not kept
    reads.clear()
    first = run({"insert": "orders"}, None)
    answers = [run({name: "orders"}, None) for name in ("update", "find", "findAndModify", "delete", "count", "insert")]
    assert answers == [first] * 6 and reads == ["orders"]
    first["validator"]["paid"] = "changed by a caller"
    assert run({"find": "orders"}, None)["validator"] == {"paid": {"$type": "bool"}}  # a copy was handed out
    listed = [run({"listCollections": 1}, None)["uuid"] for _ in range(2)]
    assert len(set(listed)) == 2 and len(reads) == 3  # read from storage each time
    run({"collMod": "orders"}, None)
    run({"insert": "orders"}, None)
    assert len(reads) == 5  # collMod's own read, then the insert's, after it forgot


def test_a_validator_or_a_view_applies_as_soon_as_a_command_sets_it(database: str) -> None:
    """Through the server the services use: writes and finds on a collection are answered from
    what the daemon knows of its options, and a validator or a view made by a command applies to
    the very next one; listCollections still names the collection's uuid."""
    name = f"beli_known_{uuid.uuid4().hex[:8]}"
    with MongoClient(database) as client:
        shop = client[name]
        try:
            shop["items"].insert_one({"_id": 1, "paid": True})
            shop["items"].update_one({"_id": 1}, {"$set": {"paid": False}})
            assert shop["items"].find_one({"_id": 1}) == {"_id": 1, "paid": False}
            shop.command("collMod", "items", validator={"paid": {"$type": "bool"}})
            with pytest.raises(WriteError, match="validation"):
                shop["items"].insert_one({"_id": 2, "paid": "yes"})
            with pytest.raises(WriteError, match="validation"):
                shop["items"].update_one({"_id": 1}, {"$set": {"paid": "no"}})
            shop.command("collMod", "items", validator={})
            shop["items"].insert_one({"_id": 2, "paid": "yes"})

            assert list(shop["unpaid"].find()) == []  # known: no such collection
            shop.command("create", "unpaid", viewOn="items", pipeline=[{"$match": {"paid": False}}])
            assert [doc["_id"] for doc in shop["unpaid"].find()] == [1]
            listed = {info["name"]: info for info in shop.list_collections()}
            assert listed["items"]["info"].get("uuid") is not None

            # A collection created with a validator in a transaction that is then rolled back:
            # the collection made later by a plain insert has no validator.
            with client.start_session() as session:
                session.start_transaction()
                shop.create_collection("drafts", validator={"paid": {"$type": "bool"}}, session=session)
                with pytest.raises(WriteError, match="validation"):
                    shop["drafts"].insert_one({"_id": 1, "paid": "yes"}, session=session)
                session.abort_transaction()
            shop["drafts"].insert_one({"_id": 1, "paid": "yes"})
            assert shop["drafts"].count_documents({}) == 1
        finally:
            client.drop_database(name)


UPDATES: list[dict[str, Any]] = [
    {"$set": {"status": "paid", "paid_at": 1}, "$inc": {"version": 1}},
    {"$set": {"status": "paid", "paid_at": 1}, "$inc": {"version": 1}},  # the same shape again
    {"$set": {"status": "paid", "status.code": 1}},  # a conflict (40)
    {"$set": {"a": 1}, "$inc": {"a": 1}},
    {"$set": {"": 1}},  # an empty path (56)
    {"$set": {"a..b": 1}},
    {"$nope": {"a": 1}, "$set": {"": 1}},  # an unknown operator first (9)
    {"$set": {"a": 1}, "z": 2},
    {"$rename": {"a": "b"}, "$set": {"b": 1}},  # $rename's destination is a path too
    {"$rename": {"a": "c"}, "$set": {"b": 1}},
    {"$unset": {"lines.0.note": ""}, "$push": {"history": {"at": 1}}},
]


def _outcome(validate: Any, spec: dict[str, Any]) -> Any:
    try:
        return validate(spec)
    except Exception as error:  # noqa: BLE001 - the error itself is the outcome compared
        return (type(error).__name__, str(error), getattr(error, "code", None))


def test_update_paths_are_judged_as_secantusdb_judges_them_and_a_valid_shape_once() -> None:
    original = update._validate_update_paths
    calls: list[int] = []

    def counted(spec: Any) -> Any:
        calls.append(1)
        return original(spec)

    remembered = ValidUpdatePaths(counted)
    for _ in range(2):  # the second time through, valid shapes are known and invalid ones judged again
        assert [_outcome(remembered, spec) for spec in UPDATES] == [_outcome(original, spec) for spec in UPDATES]
    assert [_outcome(original, spec) for spec in UPDATES][2] == ("status.code", "status")
    assert isinstance(_outcome(original, UPDATES[4]), tuple) and _outcome(original, UPDATES[4])[2] == 56
    # 11 judged the first time, less the repeated shape; then only the 6 invalid ones and the 2 $renames.
    assert len(calls) == 10 + 8


def test_an_update_refused_for_its_paths_is_refused_by_the_server_after_valid_ones_of_a_like_shape(database: str) -> None:
    name = f"beli_paths_{uuid.uuid4().hex[:8]}"
    with MongoClient(database) as client:
        orders = client[name]["orders"]
        try:
            orders.insert_one({"_id": 1, "a": {"b": 0}})
            orders.update_one({"_id": 1}, {"$set": {"a.b": 1, "c": 1}})
            orders.update_one({"_id": 1}, {"$set": {"a.b": 2, "c": 2}})
            with pytest.raises(WriteError) as refused:
                orders.update_one({"_id": 1}, {"$set": {"a.b": 3, "a": 3}})
            assert refused.value.code == 40
            assert orders.find_one({"_id": 1}) == {"_id": 1, "a": {"b": 2}, "c": 2}
        finally:
            client.drop_database(name)


def test_a_tree_copy_is_a_deep_copy_of_a_decoded_document() -> None:
    """Equal to deepcopy's, and nothing of it changes with the original: its dicts and lists are new
    ones, and values that could change in place (a Regex, Code with its scope) are copies."""
    stored = bson.decode(
        bson.encode(
            {
                "_id": ObjectId(),
                "status": "PAID",
                "total": Int64(125_000),
                "levy": Decimal128("1250"),
                "paid_at": datetime.datetime(2026, 12, 7, 10, 0),
                "lines": [{"product": "tenun-ikat", "quantity": 2, "tags": ["kain", "sumba"]}],
                "customer": {"name": "Maria", "address": {"regency": "Kupang"}},
                "photo": Binary(b"\x00\x01"),
                "pattern": Regex("^tenun", "i"),
                "rule": Code("return x", {"x": [1]}),
                "seen": Timestamp(1, 2),
                "nothing": None,
            }
        )
    )
    copied = tree_copy(stored)
    assert copied == copy.deepcopy(stored) == stored
    copied["lines"][0]["tags"].append("ende")
    copied["customer"]["address"]["regency"] = "Ende"
    copied["rule"].scope["x"].append(2)
    assert stored["lines"][0]["tags"] == ["kain", "sumba"]
    assert stored["customer"]["address"]["regency"] == "Kupang"
    assert stored["rule"].scope == {"x": [1]}
    assert copied["pattern"] is not stored["pattern"] and copied["pattern"] == stored["pattern"]


def test_an_update_moves_a_documents_index_entries_from_its_old_values(database: str) -> None:
    """Through the server the services use (updates copy the stored document with tree_copy): after
    updates of nested fields and arrays, the indexes find the document by its new values only."""
    name = f"beli_known_{uuid.uuid4().hex[:8]}"
    with MongoClient(database) as client:
        shop = client[name]
        try:
            orders = shop["orders"]
            orders.create_index("customer.regency")
            orders.create_index("tags")
            orders.insert_one({"_id": 1, "customer": {"regency": "Kupang"}, "tags": ["kain"]})
            orders.update_one({"_id": 1}, {"$set": {"customer.regency": "Ende"}, "$push": {"tags": "sumba"}})
            with client.start_session() as session, session.start_transaction():
                orders.update_one({"_id": 1}, {"$pull": {"tags": "kain"}}, session=session)
            assert orders.find_one({"customer.regency": "Kupang"}) is None
            assert orders.find_one({"customer.regency": "Ende"}, {"_id": 1}) == {"_id": 1}
            assert orders.find_one({"tags": "kain"}) is None
            assert orders.find_one({"tags": "sumba"}, {"tags": 1}) == {"_id": 1, "tags": ["sumba"]}
        finally:
            client.drop_database(name)


def test_an_index_catalog_is_read_once_and_a_command_that_changes_one_sees_its_own_changes() -> None:
    """Kept as read outside a transaction (or in one begun since the last change), and served to
    everyone, except to a transaction that changed a catalog (a command that may, or a multikey mark), which reads storage until it ends,
    and to a command that marked an index, until it ends; both ends forget what was kept."""
    known = PlainCollections()
    reads: list[str] = []

    def read(storage: Any, db: str, coll: str) -> Any:
        reads.append(coll)
        return iter([("by_tags", {"tags": 1}, {})])

    indexes = known.indexes(read)
    marking = known.marking(lambda storage, db, coll, doc, found, already: already | {"by_tags"})

    def command(doc: dict[str, Any], ctx: Any) -> list[Any]:
        if "commitTransaction" in doc or "abortTransaction" in doc:
            return []
        if doc.get("marks"):
            marking(None, "shop", "orders", {"tags": ["a", "b"]}, [], set())
        return list(indexes(None, "shop", "orders"))

    run = known.dispatching(command)

    def in_transaction(session: str, name: str, **more: Any) -> dict[str, Any]:
        return {name: "orders", "lsid": {"id": session}, "txnNumber": 1, "autocommit": False, **more}

    first = run({"find": "orders"}, None)
    assert run({"insert": "orders"}, None) == first and run(in_transaction("A", "insert"), None) == first
    assert len(reads) == 1
    first[0][1]["tags"] = "changed by a caller"
    assert run({"find": "orders"}, None)[0][1] == {"tags": 1}  # a copy was handed out

    run(in_transaction("B", "update", marks=True), None)  # B marks an index multikey: forgotten
    run({"find": "orders"}, None)
    run(in_transaction("A", "find"), None)
    assert len(reads) == 3  # B's update read storage; the find outside read it too, and A is served that
    run(in_transaction("B", "find"), None)
    run(in_transaction("B", "find"), None)
    assert len(reads) == 5  # B sees its own mark, which nobody else may yet
    run(in_transaction("B", "commitTransaction"), None)
    run({"find": "orders"}, None)
    run(in_transaction("B", "find"), None)  # its next transaction is served again
    assert len(reads) == 6

    run({"update": "orders", "marks": True}, None)  # outside a transaction: storage until it ends
    run({"find": "orders"}, None)
    assert len(reads) == 8

    run(in_transaction("C", "createIndexes"), None)
    run(in_transaction("C", "insert"), None)
    run({"find": "orders"}, None)
    run(in_transaction("C", "find"), None)
    assert len(reads) == 12  # C's statements read storage, before and after the find outside kept it
    run(in_transaction("C", "abortTransaction"), None)
    run({"find": "orders"}, None)
    run({"find": "orders"}, None)
    assert len(reads) == 13  # the abort forgot: read once more, then kept

    # A transaction begun since the last forgetting reads what anyone would: what it reads is kept.
    run({"collMod": "orders"}, None)
    run(in_transaction("D", "insert", startTransaction=True), None)
    run({"find": "orders"}, None)
    run(in_transaction("E", "find", startTransaction=True), None)
    assert len(reads) == 15  # collMod's read (forgotten after it), then D's, kept
    run({"collMod": "orders"}, None)
    run(in_transaction("D", "find"), None)
    run(in_transaction("D", "find"), None)
    assert len(reads) == 18  # D reads as of its start, older than collMod: not kept


def test_indexes_created_or_marked_in_a_transaction_serve_it_and_only_it_until_it_commits(database: str) -> None:
    """Through the server the services use, with the index catalog kept: an index created in a
    transaction (on the collection it creates, while others find nothing there) and an index marked
    multikey by a transaction's insert find its documents inside it; after an abort the collection
    and its index are gone, after a commit everyone finds the documents through them."""
    name = f"beli_known_{uuid.uuid4().hex[:8]}"
    with MongoClient(database) as client:
        shop = client[name]
        try:
            shop["orders"].create_index("tags")
            shop["orders"].insert_one({"_id": 1, "tags": "kain"})
            assert shop["orders"].find_one({"tags": "kain"}, {"_id": 1}) == {"_id": 1}
            with client.start_session() as session:
                _collection_and_index_made_in(session, shop["drafts"])
                assert shop["orders"].find_one({"tags": "kain"}, {"_id": 1}) == {"_id": 1}
                session.abort_transaction()
            assert "drafts" not in shop.list_collection_names()
            shop["drafts"].insert_one({"_id": 2, "regency": "Kupang"})
            assert [index["name"] for index in shop["drafts"].list_indexes()] == ["_id_"]

            with client.start_session() as session:
                _collection_and_index_made_in(session, shop["outlets"])
                session.commit_transaction()
            # The insert wrote the index's entry, which a find through the index now needs.
            assert shop["outlets"].find_one({"regency": "Ende"}, {"_id": 1}) == {"_id": 1}

            with client.start_session() as session, session.start_transaction():
                shop["orders"].insert_one({"_id": 2, "tags": ["tenun", "sumba"]}, session=session)
                assert shop["orders"].find_one({"tags": "sumba"}, {"_id": 1}, session=session) == {"_id": 2}
                assert shop["orders"].find_one({"tags": "sumba"}) is None
            assert shop["orders"].find_one({"tags": "sumba"}, {"_id": 1}) == {"_id": 2}
            assert [doc["_id"] for doc in shop["orders"].find({"tags": {"$in": ["kain", "tenun"]}}).sort("tags", 1)] == [1, 2]
            explained = shop["orders"].find({"tags": "tenun"}).explain()
            assert "'isMultiKey': True" in str(explained), explained
        finally:
            client.drop_database(name)


def _collection_and_index_made_in(session: Any, collection: Any) -> None:
    """Begin a transaction that creates `collection` with an index on `regency` and inserts a
    document, while a find outside it finds no such collection; the transaction finds its document."""
    session.start_transaction()
    collection.database.create_collection(collection.name, session=session)
    collection.create_index("regency", session=session)
    assert collection.find_one({"regency": "Ende"}) is None  # outside: no such collection yet
    collection.insert_one({"_id": 1, "regency": "Ende"}, session=session)
    assert collection.find_one({"regency": "Ende"}, {"_id": 1}, session=session) == {"_id": 1}
