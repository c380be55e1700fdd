"""The alert rules and the Grafana dashboard watch metrics and events that exist: a renamed
metric or event type would otherwise leave an alert that can never fire."""

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import beli_contracts  # noqa: F401 - registers every event type
from beli_contracts.envelope import event_types
from beli_runtime import metrics  # noqa: F401 - registers the shared metrics

MONITORING = Path(__file__).resolve().parents[1] / "deploy" / "monitoring"
# Metrics from outside our code: Prometheus's own `up`, Strimzi's Kafka exporter.
EXTERNAL = {"up", "kafka_consumergroup_lag", "kafka_consumergroup_current_offset"}
PROMQL_WORDS = {"sum", "by", "rate", "increase", "max", "and", "offset", "histogram_quantile", "le", "bool", "on"}


def expressions() -> list[str]:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"][0]["rules"]
    panels = json.loads((MONITORING / "grafana-dashboard.json").read_text())["panels"]
    return [rule["expr"] for rule in rules] + [target["expr"] for panel in panels for target in panel["targets"]]


def ours() -> set[str]:
    # A family without samples yet (a labelled counter nobody incremented) still has its series names.
    suffixes = ("", "_total", "_bucket", "_sum", "_count")
    return {family.name + suffix for family in REGISTRY.collect() for suffix in suffixes}


@pytest.mark.parametrize("expression", expressions())
def test_every_metric_and_event_type_exists(expression: str) -> None:
    without_strings = re.sub(r'"[^"]*"', "", expression)
    without_braces = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\bby \([^)]*\)", "", without_strings)
    names = set(re.findall(r"[a-z_][a-z0-9_]*", without_braces)) - PROMQL_WORDS - {"1w", "w"}
    unknown = {name for name in names if name not in ours() and name not in EXTERNAL and not name.isdigit()}
    assert not unknown, f"unknown metrics in {expression!r}: {unknown}"
    known_types = {type_ for type_, _ in event_types()}
    for type_ in re.findall(r'type="([a-z_.]+)"', expression):
        assert type_ in known_types, f"{type_} is not an event type of the contracts"


def test_every_alert_has_a_severity_and_a_summary() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"][0]["rules"]
    assert len(rules) >= 8
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"} and rule["annotations"]["summary"], rule["alert"]
