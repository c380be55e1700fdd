"""What service-layer tests share: the settings that give a service a database of its own and no
Kafka, and the events a service would publish (read from its outbox, since nothing relays them)."""

from dataclasses import asdict, dataclass
from typing import Any

from beli_contracts.envelope import Envelope, decode
from beli_runtime.mongo import Database

# A port nothing listens on: a service built for a service-layer test has no Kafka.
NO_KAFKA = "127.0.0.1:1"


@dataclass(frozen=True)
class ServiceDatabase:
    mongodb_url: str
    mongodb_database: str
    kafka_bootstrap_servers: str = NO_KAFKA

    def settings(self) -> dict[str, Any]:
        """Keyword arguments for the service's settings class."""
        return asdict(self)


async def outbox_events(db: Database, key: str) -> list[Envelope]:
    """The events written for one aggregate (order, rule, ...), oldest first."""
    rows = await db["outbox"].find({"key": key}).sort([("created_at", 1), ("_id", 1)]).to_list()
    return [decode(bytes(row["value"])) for row in rows]
