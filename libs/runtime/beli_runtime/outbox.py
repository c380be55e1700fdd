"""Transactional outbox: events are written with the state change, then relayed to Kafka.

A write that must produce an event inserts the event into `outbox` in the same MongoDB
transaction; the relay publishes unpublished rows in order and marks them. A crash between
publish and mark re-sends the row, so consumers dedupe by event id (they do: see consumer.py).
"""

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer
from bson import ObjectId

from beli_contracts import Envelope, EventPayload
from beli_runtime import metrics, tracing
from beli_runtime.clock import as_utc, utcnow
from beli_runtime.kafka import new_producer, stop_quietly
from beli_runtime.logs import get_logger
from beli_runtime.mongo import Database, Session, ensure_index

log = get_logger(__name__)
BATCH = 200
KEEP_PUBLISHED_SECONDS = 7 * 24 * 3600


class Outbox:
    def __init__(self, db: Database, source: str) -> None:
        self._rows = db["outbox"]
        self.source = source

    async def ensure_indexes(self) -> None:
        await ensure_index(self._rows, [("published_at", 1), ("created_at", 1), ("_id", 1)])
        await ensure_index(self._rows, "published_at", name="published_ttl", expireAfterSeconds=KEEP_PUBLISHED_SECONDS)

    async def add(self, session: Session, payload: EventPayload, *, key: str, correlation_id: str | None = None) -> Envelope:
        envelope = Envelope.wrap(payload, key=key, source=self.source, correlation_id=correlation_id)
        await self.add_raw(session, envelope.topic, key, envelope.to_bytes(), {"event_type": envelope.type})
        return envelope

    async def add_many(self, session: Session, payloads: list[EventPayload], *, key: str) -> list[Envelope]:
        """Several events of one aggregate, in this order, in one round trip."""
        envelopes = [Envelope.wrap(payload, key=key, source=self.source) for payload in payloads]
        rows = [self._row(e.topic, key, e.to_bytes(), {"event_type": e.type}) for e in envelopes]
        if rows:
            await self._rows.insert_many(rows, ordered=True, session=session)
        return envelopes

    async def add_raw(self, session: Session, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        await self._rows.insert_one(self._row(topic, key, value, headers), session=session)

    def _row(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None) -> dict[str, Any]:
        row: dict[str, Any] = {
            "_id": ObjectId(),
            "topic": topic,
            "key": key,
            "value": value,
            "headers": headers or {},
            "created_at": utcnow(),
            "published_at": None,
        }
        # The trace this event belongs to is the one writing it, not the relay's that sends it later.
        trace = tracing.carrier()
        if trace:
            row["trace"] = trace
        return row

    async def pending_count(self) -> int:
        return await self._rows.count_documents({"published_at": None})


class OutboxRelay:
    """Publishes unpublished outbox rows; run as a leased background job (one instance at a time)."""

    def __init__(self, db: Database, bootstrap: str, client_id: str) -> None:
        self._rows = db["outbox"]
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def publish_pending(self) -> bool:
        rows = await self._rows.find({"published_at": None}).sort([("created_at", 1), ("_id", 1)]).limit(BATCH).to_list()
        metrics.OUTBOX_OLDEST_SECONDS.set((utcnow() - as_utc(rows[0]["created_at"])).total_seconds() if rows else 0)
        if not rows:
            return False
        publication = tracing.Publication()
        try:
            producer = await self._ready_producer()
            sent = [
                await producer.send(row["topic"], bytes(row["value"]), key=row["key"].encode(), headers=_headers(row, publication))
                for row in rows
            ]
            await asyncio.gather(*sent)
        except Exception as error:
            publication.end(error)
            # A wedged idempotent producer (e.g. after a broker restart) only recovers when recreated.
            await self.close()
            raise
        publication.end()
        await self._rows.update_many({"_id": {"$in": [row["_id"] for row in rows]}}, {"$set": {"published_at": utcnow()}})
        for row in rows:
            metrics.EVENTS_PUBLISHED.labels(row.get("headers", {}).get("event_type", "unknown")).inc()
        log.debug("outbox.published", count=len(rows))
        return True

    async def _ready_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(self._bootstrap, self._client_id)
            try:
                await producer.start()
            except Exception:
                await stop_quietly(producer)
                raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await stop_quietly(producer)


def _headers(row: dict[str, Any], publication: tracing.Publication) -> list[tuple[str, bytes]]:
    headers = [(name, str(value).encode()) for name, value in row.get("headers", {}).items()]
    attributes = {"messaging.kafka.message.key": row["key"], "beli.event.type": row.get("headers", {}).get("event_type", "")}
    return headers + publication.headers(row.get("trace"), row["topic"], as_utc(row["created_at"]), attributes)
