"""Back up and restore one service's database, in mongodump's own layout.

    uv run python infra/backup.py dump    --url mongodb://... --database beli_payments --to backups/2026-11-23
    uv run python infra/backup.py restore --url mongodb://... --database beli_payments --from backups/2026-11-23

Each collection becomes ``<collection>.bson`` (its documents as concatenated BSON, the format
mongodump writes and mongorestore reads) and ``<collection>.metadata.json`` (its indexes), so a
dump made here restores with mongorestore and the other way round. Production takes its
backups with mongodump --oplog or the platform's snapshots (docs/operations.md); this tool is
for the local stacks, for small installations, and for the restore test of the levy ledger.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import bson
from pymongo import MongoClient
from pymongo.database import Database

BATCH = 1_000


def dump(database: Database[dict[str, Any]], directory: Path) -> dict[str, int]:
    """Write every collection of ``database`` into ``directory``; return documents per collection."""
    directory.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name in sorted(database.list_collection_names()):
        collection = database[name]
        with (directory / f"{name}.bson").open("wb") as out:
            counts[name] = 0
            for document in collection.find({}, sort=[("_id", 1)]):
                out.write(bson.encode(document))
                counts[name] += 1
        indexes = [{k: v for k, v in spec.items() if k != "ns"} for spec in collection.list_indexes()]
        metadata = {"indexes": [_json_index(spec) for spec in indexes], "collectionName": name}
        (directory / f"{name}.metadata.json").write_text(json.dumps(metadata, indent=1, default=str))
    return counts


def restore(directory: Path, database: Database[dict[str, Any]]) -> dict[str, int]:
    """Load a dump into ``database``, which must be empty (a restore never merges into live data)."""
    if database.list_collection_names():
        raise SystemExit(f"restore: database {database.name!r} is not empty; restore into a fresh one")
    counts: dict[str, int] = {}
    for data in sorted(directory.glob("*.bson")):
        name = data.name.removesuffix(".bson")
        collection = database[name]
        metadata = json.loads((directory / f"{name}.metadata.json").read_text())
        for spec in metadata["indexes"]:
            if spec["name"] != "_id_":
                options = {k: v for k, v in spec.items() if k not in ("key", "v")}
                collection.create_index(list(spec["key"].items()), **options)
        documents = bson.decode_all(data.read_bytes())
        for start in range(0, len(documents), BATCH):
            collection.insert_many(documents[start : start + BATCH], ordered=True)
        counts[name] = len(documents)
    return counts


def _json_index(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "key": dict(spec["key"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["dump", "restore"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--to", "--from", dest="directory", type=Path, required=True)
    args = parser.parse_args(argv)
    with MongoClient(args.url) as client:
        database = client[args.database]
        counts = dump(database, args.directory) if args.command == "dump" else restore(args.directory, database)
    for name, count in counts.items():
        print(f"{args.command} {args.database}.{name}: {count} documents")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
