"""The events as an AsyncAPI 3 document: every topic, its key, and every event type and version
with its JSON Schema, generated from the models in this package (the only description of them).

    uv run python -m beli_contracts.asyncapi > docs/asyncapi.json

The committed docs/asyncapi.json is compared with this output by a test, so it cannot drift.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from beli_contracts import topics
from beli_contracts.envelope import TYPE_HEADER, Envelope, EventPayload, event_types

TOPIC_PRODUCERS = {
    topics.CATALOG_EVENTS: "catalog",
    topics.ORDERS_EVENTS: "orders",
    topics.PAYMENTS_EVENTS: "payments",
    topics.PROGRAMME_EVENTS: "programme",
}


def message_name(payload: type[EventPayload]) -> str:
    return f"{payload.TYPE.replace('.', '_')}_v{payload.VERSION}"


def _message(payload: type[EventPayload]) -> dict[str, Any]:
    envelope = Envelope.model_json_schema()
    data = payload.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = data.pop("$defs", {})
    envelope["properties"]["type"] = {"const": payload.TYPE}
    envelope["properties"]["version"] = {"const": payload.VERSION}
    envelope["properties"]["data"] = data
    return {
        "name": payload.TYPE,
        "title": f"{payload.TYPE} v{payload.VERSION}",
        "summary": (payload.__doc__ or "").strip().splitlines()[0] if payload.__doc__ else payload.TYPE,
        "contentType": "application/json",
        "headers": {"type": "object", "properties": {TYPE_HEADER: {"type": "string", "const": payload.TYPE}}},
        "payload": envelope,
        "bindings": {"kafka": {"key": {"type": "string", "description": "the aggregate id (the envelope's key)"}}},
        "x-schemas": definitions,
    }


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document for the current contracts."""
    payloads = sorted(event_types().values(), key=lambda p: (p.TOPIC, p.TYPE, p.VERSION))
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for payload in payloads:
        message = _message(payload)
        schemas |= message.pop("x-schemas")
        messages[message_name(payload)] = message
    for topic in topics.ALL_TOPICS:
        names = [message_name(p) for p in payloads if topic == p.TOPIC]
        channel = topic.replace(".", "_")
        channels[channel] = {
            "address": topic,
            "description": f"Events of the {TOPIC_PRODUCERS[topic]} service; {topics.PARTITIONS} partitions, keyed by aggregate id",
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
            "bindings": {"kafka": {"partitions": topics.PARTITIONS}},
        }
        operations[f"publish_{channel}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{TOPIC_PRODUCERS[topic]} publishes through its transactional outbox",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Beli NTT events",
            "version": "1.0.0",
            "description": "Every event travels in one envelope (id, type, version, source, time, key, correlation_id, data). "
            "Writers are strict; readers ignore fields they do not know. A new required field is a new version.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
