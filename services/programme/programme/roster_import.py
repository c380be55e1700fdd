"""The ASN roster import, sized for the province's 150,000 ASN in one file.

The file is walked twice in a worker thread, never held whole as rows: first only its NIPs (a
NIP twice in the file is refused in every row, so that must be known before any row is
judged), then in chunks that are validated and compared with the roster digest. While the
database writes one chunk, the thread prepares the next, and the event loop stays free for
the service's other requests and its Kafka consumers. Each chunk costs one `insert_many` for
the new ASN and one `bulk_write` for the changed ones; unchanged rows cost nothing."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from beli_runtime.clock import utcnow
from programme import domain
from programme.sheets import TableFile
from programme.store import Doc, ProgrammeStore, roster_fingerprint

CHUNK_ROWS = 5000  # one insert_many per chunk: few round trips, bounded memory


@dataclass
class Chunk:
    """One chunk of the file, judged and compared with the digest (made in the worker thread)."""

    rows: int = 0
    rejected: list[domain.Rejected] = field(default_factory=list)
    fresh: list[Doc] = field(default_factory=list)  # new ASN, as documents to insert
    changed: list[tuple[str, Doc]] = field(default_factory=list)  # NIP -> the fields to $set
    unchanged: int = 0
    entries: dict[str, str] = field(default_factory=dict)  # the digest's new values


@dataclass
class Tally:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[domain.Rejected] = field(default_factory=list)
    moves: dict[str, int] = field(default_factory=dict)  # ASN count change per OPD
    entries: dict[str, str] = field(default_factory=dict)

    def move(self, opd_id: str, count: int) -> None:
        self.moves[opd_id] = self.moves.get(opd_id, 0) + count


class RosterImport:
    """One import: `run` once, under the caller's lock (the digest is read, then written)."""

    def __init__(self, store: ProgrammeStore, opds: dict[str, Doc], digest: dict[str, str]) -> None:
        self.store = store
        self.opds = opds
        self.known = set(opds)
        self.digest = digest  # never changed during the run: the worker thread reads it
        self.now = utcnow()
        self.tally = Tally()

    async def run(self, table: TableFile) -> dict[str, Any]:
        repeated = await asyncio.to_thread(domain.repeated_nips, table.column("nip"))
        rows = enumerate(table.rows(), start=2)
        pending = asyncio.ensure_future(asyncio.to_thread(self._prepare, rows, repeated))
        try:
            while (chunk := await pending) is not None:
                pending = asyncio.ensure_future(asyncio.to_thread(self._prepare, rows, repeated))
                await self._write(chunk)
        finally:
            if not pending.done():  # a failed write: let the thread finish its chunk, unobserved
                pending.add_done_callback(lambda done: done.cancelled() or done.exception())
        await self.store.add_asn_counts(self.tally.moves, self.opds)
        await self.store.save_digest(self.digest, self.tally.entries)
        return self._report()

    def _prepare(self, rows: Iterator[tuple[int, dict[str, str]]], repeated: set[str]) -> Chunk | None:
        chunk = Chunk()
        for number, row in rows:
            chunk.rows += 1
            checked = domain.check_roster_row(number, row, repeated, self.known)
            if isinstance(checked, domain.Rejected):
                chunk.rejected.append(checked)
            else:
                self._compare(chunk, checked)
            if chunk.rows >= CHUNK_ROWS:
                break
        return chunk if chunk.rows else None

    def _compare(self, chunk: Chunk, row: dict[str, str]) -> None:
        nip = row["nip"]
        fields = {
            "name": row["name"],
            "opd_id": row["opd_id"],
            "government": self.opds[row["opd_id"]]["government"],
            "email": row["email"],
            "phone": row["phone"],
        }
        value = f"{roster_fingerprint(fields)}:{row['opd_id']}"
        known = self.digest.get(nip)
        if known == value:
            chunk.unchanged += 1
            return
        chunk.entries[nip] = value
        if known is None:
            chunk.fresh.append({"_id": nip, **fields, "imported_at": self.now})
        else:
            chunk.changed.append((nip, fields))

    async def _write(self, chunk: Chunk) -> None:
        tally = self.tally
        already = set(await self.store.insert_asn(chunk.fresh)) if chunk.fresh else set()
        # On the roster but not in the digest (an import cut short): updated, and counted as
        # the import that was cut short never counted them.
        retried = [(doc["_id"], _fields_of(doc)) for doc in chunk.fresh if doc["_id"] in already]
        await self.store.update_asn(chunk.changed + retried)
        for doc in chunk.fresh:
            tally.move(doc["opd_id"], 1)
        for nip, fields in chunk.changed:
            old = self.digest[nip].split(":", 1)[1]
            if old != fields["opd_id"]:
                tally.move(old, -1)
                tally.move(fields["opd_id"], 1)
        tally.rows += chunk.rows
        tally.created += len(chunk.fresh) - len(already)
        tally.updated += len(chunk.changed) + len(already)
        tally.unchanged += chunk.unchanged
        tally.rejected += chunk.rejected
        tally.entries.update(chunk.entries)

    def _report(self) -> dict[str, Any]:
        tally = self.tally
        return {
            "rows": tally.rows,
            "created": tally.created,
            "updated": tally.updated,
            "unchanged": tally.unchanged,
            "rejected_count": len(tally.rejected),
            "rejected": [{"row": r.row, "nip": r.value, "reason": r.reason} for r in tally.rejected],
        }


def _fields_of(doc: Doc) -> Doc:
    return {key: value for key, value in doc.items() if key not in ("_id", "imported_at")}
