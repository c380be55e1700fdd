"""compose.yaml (single node) and compose.cluster.yaml (the cluster profile) stay valid, complete
and locked down.

The files are read by the Compose Specification's own loader, compose-go (the library Docker
Compose V2 loads files with), built from the Go module proxy by infra/bootstrap.sh: it validates
against the Compose Specification's JSON schema, resolves anchors, merges and `!reset`, and
prints the model as V2 sees it. checkov has no compose scanner, so the policy a scanner would
apply (non-root, read-only, no capabilities, healthchecks, volumes) is asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from beli_contracts.topics import ALL_TOPICS, PARTITIONS

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
CLUSTER_FILE = REPO_ROOT / "compose.cluster.yaml"
TOOLS = Path(os.environ.get("BELI_TOOLS_DIR", Path.home() / ".cache" / "beli-ntt" / "bin"))

# app -> (port, workspace package, Python module)
APPS = {
    "web": (8000, "beli-web", "web"),
    "catalog": (8001, "beli-catalog", "catalog"),
    "orders": (8002, "beli-orders", "orders"),
    "payments": (8003, "beli-payments", "payments"),
    "notifications": (8004, "beli-notifications", "notifications"),
    "programme": (8007, "beli-programme", "programme"),
    "midtrans": (8005, "beli-midtrans-simulator", "midtrans_simulator"),
    "messaging": (8006, "beli-messaging-simulator", "messaging_simulator"),
}
SERVICES = ("catalog", "orders", "payments", "notifications", "programme")


def compose_spec(*files: Path, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    binary = TOOLS / "compose-spec"
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: run `make install` (infra/bootstrap.sh builds it with Go)", pytrace=False)
    # Only what the files say counts: no .env or shell variables leak into the model.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(Path.home())} | (environment or {})
    return subprocess.run(
        [str(binary), "--format", "json", *map(str, files)], capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=60, check=False
    )


@cache
def model(cluster: bool = False) -> dict[str, Any]:
    files = (COMPOSE_FILE, CLUSTER_FILE) if cluster else (COMPOSE_FILE,)
    result = compose_spec(*files)
    assert result.returncode == 0, f"compose-spec rejected {[f.name for f in files]}:\n{result.stderr}"
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def services(cluster: bool = False) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = model(cluster)["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # compose-go prints ["KEY=value", ...]
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def published(service: dict[str, Any]) -> set[tuple[int, int]]:
    return {(int(p["published"]), int(p["target"])) for p in service.get("ports") or []}


def test_both_files_are_valid_compose_v2() -> None:
    assert set(APPS) <= set(services())
    assert set(APPS) <= set(services(cluster=True))


def test_a_broken_file_is_refused(tmp_path: Path) -> None:
    """The validator can fail: a service with an unknown key is rejected."""
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  web:\n    image: x\n    restart_policy: always\n")
    result = compose_spec(broken)
    assert result.returncode != 0 and "restart_policy" in result.stderr


@pytest.mark.parametrize("name", sorted(APPS))
def test_app_image_is_built_from_the_lock_file(name: str) -> None:
    port, package, module = APPS[name]
    service = services()[name]
    build = service["build"]
    assert Path(build["context"], build["dockerfile"]).resolve() == REPO_ROOT / "services" / "Dockerfile"
    assert build["args"] == {"PACKAGE": package, "MODULE": module, "PORT": str(port)}
    assert (port, port) in published(service)
    package_dir = next(p for p in [REPO_ROOT / "services" / name, REPO_ROOT / "simulators" / name] if p.is_dir())
    assert f'name = "{package}"' in (package_dir / "pyproject.toml").read_text()
    assert (package_dir / module / "main.py").is_file()


def test_dockerfile_is_multi_stage_frozen_non_root_with_healthcheck() -> None:
    text = (REPO_ROOT / "services" / "Dockerfile").read_text()
    assert text.count("FROM python:3.11-slim") == 2 and "AS build" in text
    assert "uv sync --frozen --no-dev --no-editable --package" in text
    assert "COPY --from=build" in text and "USER 10001" in text
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "${MODULE}.main:app" in text and "${PORT}" in text


@pytest.mark.parametrize("name", sorted(APPS))
def test_apps_are_locked_down_and_healthchecked(name: str) -> None:
    service = services()[name]
    assert service.get("read_only") is True
    assert service.get("cap_drop") == ["ALL"]
    assert "no-new-privileges:true" in service.get("security_opt", [])
    assert not service.get("privileged") and service.get("network_mode") is None
    assert "/healthz" in " ".join(service["healthcheck"]["test"])


@pytest.mark.parametrize("name", [*SERVICES, "web"])
def test_apps_start_only_after_what_they_need_is_healthy(name: str) -> None:
    conditions = {dep: spec["condition"] for dep, spec in services()[name]["depends_on"].items()}
    if name == "web":
        assert conditions == {service: "service_healthy" for service in SERVICES}
    else:
        assert conditions["mongo"] == "service_healthy" and conditions["kafka-init"] == "service_completed_successfully"
        assert all(condition != "service_started" for condition in conditions.values())


def test_kafka_and_mongo_keep_their_data_on_volumes() -> None:
    defined = services()
    assert defined["kafka"]["image"] == "apache/kafka:4.1.1" and defined["mongo"]["image"] == "mongo:8.0"
    kafka_env = environment(defined["kafka"])
    assert any(v["target"] == kafka_env["KAFKA_LOG_DIRS"] and v["type"] == "volume" for v in defined["kafka"]["volumes"])
    assert any(v["target"] == "/data/db" and v["type"] == "volume" for v in defined["mongo"]["volumes"])
    assert {"kafka-data", "mongo-data"} <= set(model()["volumes"])


def test_topic_init_creates_the_contract_topics() -> None:
    script = " ".join(services()["kafka-init"]["command"])
    for topic in ALL_TOPICS:
        assert topic in script, f"kafka-init does not create {topic}"
    assert f"--partitions {PARTITIONS}" in script


@pytest.mark.parametrize("name", SERVICES)
def test_services_reach_kafka_and_mongo_inside_the_network(name: str) -> None:
    env = environment(services()[name])
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["MONGODB_URL"] == "mongodb://mongo:27017/?replicaSet=rs0"


def test_secrets_come_from_the_env_file() -> None:
    """Every secret is a variable with a development default, documented in .env.example."""
    documented = {
        line.split("=", 1)[0] for line in (REPO_ROOT / ".env.example").read_text().splitlines() if "=" in line and not line.startswith("#")
    }
    secrets = {
        "MIDTRANS_SERVER_KEY",
        "MIDTRANS_CLIENT_KEY",
        "BOOTSTRAP_ADMIN_PASSWORD",
        "CURSOR_SECRET",
        "WEB_SESSION_SECRET",
        "JWT_KEYS_DIR",
    }
    assert secrets <= documented
    import yaml

    raw = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    assert raw["payments"]["environment"]["MIDTRANS_SERVER_KEY"].startswith("${MIDTRANS_SERVER_KEY:-")
    assert raw["catalog"]["environment"]["BOOTSTRAP_ADMIN_PASSWORD"].startswith("${BOOTSTRAP_ADMIN_PASSWORD:-")
    assert raw["catalog"]["volumes"] == ["${JWT_KEYS_DIR:-./infra/dev-keys}:/keys:ro"]


def test_payments_and_simulator_know_each_other() -> None:
    payments, midtrans = environment(services()["payments"]), environment(services()["midtrans"])
    assert payments["MIDTRANS_SNAP_BASE_URL"] == "http://midtrans:8005/snap/v1"
    assert payments["MIDTRANS_CORE_BASE_URL"] == "http://midtrans:8005"
    assert midtrans["MIDTRANS_NOTIFICATION_URL"] == "http://payments:8003/midtrans/notification"
    assert midtrans["MIDTRANS_SERVER_KEY"] == payments["MIDTRANS_SERVER_KEY"]


def test_cluster_profile_has_three_brokers_three_members_and_two_instances() -> None:
    defined = services(cluster=True)
    brokers = [defined[name] for name in ("kafka", "kafka-2", "kafka-3")]
    assert sorted(environment(b)["KAFKA_NODE_ID"] for b in brokers) == ["1", "2", "3"]
    for broker in brokers:
        env = environment(broker)
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"
        assert (env["KAFKA_DEFAULT_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
    init = environment(defined["kafka-init"])
    assert (init["TOPIC_REPLICAS"], init["TOPIC_MIN_ISR"]) == ("3", "2")
    initiate = " ".join(defined["mongo"]["healthcheck"]["test"])
    assert all(f"{host}:27017" in initiate for host in ("mongo", "mongo-2", "mongo-3"))
    for name in SERVICES:
        assert defined[name]["deploy"]["replicas"] == 2
        assert not defined[name].get("ports"), f"{name}: two instances cannot publish one host port"
        env = environment(defined[name])
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092,kafka-2:9092,kafka-3:9092"
        assert env["MONGODB_URL"] == "mongodb://mongo:27017,mongo-2:27017,mongo-3:27017/?replicaSet=rs0"


def test_web_app_calls_the_services_by_their_compose_names() -> None:
    env = environment(services()["web"])
    assert env["CATALOG_URL"] == "http://catalog:8001" and env["ORDERS_URL"] == "http://orders:8002"
    assert env["PAYMENTS_URL"] == "http://payments:8003" and env["NOTIFICATIONS_URL"] == "http://notifications:8004"


@pytest.mark.parametrize("cluster", [False, True], ids=["single", "cluster"])
def test_every_app_sends_its_traces_to_jaeger(cluster: bool) -> None:
    defined = services(cluster)
    jaeger = defined["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/jaeger:2.")
    # Jaeger v2 listens on localhost unless told otherwise: the apps could not reach it.
    assert "--set=receivers.otlp.protocols.http.endpoint=0.0.0.0:4318" in jaeger["command"]
    assert (16686, 16686) in published(jaeger)
    assert jaeger.get("read_only") is True and jaeger.get("cap_drop") == ["ALL"]
    for name in [*SERVICES, "web"]:
        env = environment(defined[name])
        assert (env["OTEL_EXPORTER_OTLP_ENDPOINT"], env["OTEL_SDK_DISABLED"]) == ("http://jaeger:4318", "false"), name
