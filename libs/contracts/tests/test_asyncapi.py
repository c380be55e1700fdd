"""docs/asyncapi.json describes exactly the events this package defines."""

import json
from pathlib import Path

from beli_contracts import ALL_TOPICS
from beli_contracts.asyncapi import document, message_name, render
from beli_contracts.envelope import event_types

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"


def test_committed_document_matches_the_contracts() -> None:
    assert COMMITTED.read_text() == render(), "regenerate: uv run python -m beli_contracts.asyncapi > docs/asyncapi.json"


def test_every_event_type_and_version_is_on_its_topic_with_a_schema() -> None:
    doc = document()
    assert doc["asyncapi"].startswith("3.")
    assert {channel["address"] for channel in doc["channels"].values()} == set(ALL_TOPICS)
    for payload in event_types().values():
        name = message_name(payload)
        channel = doc["channels"][payload.TOPIC.replace(".", "_")]
        assert name in channel["messages"]
        schema = doc["components"]["messages"][name]["payload"]
        assert schema["properties"]["type"] == {"const": payload.TYPE}
        assert set(schema["properties"]["data"].get("required", [])) <= set(payload.model_fields)


def test_references_resolve() -> None:
    text = json.dumps(document())
    doc = document()
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        node = doc
        for key in ref.removeprefix("#/").split("/"):
            node = node[key]
        assert node is not None
