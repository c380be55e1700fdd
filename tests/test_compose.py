"""docker-compose.yml stays valid and complete.

Needs the `docker-compose` command (or Docker's `docker compose` plugin) but no Docker engine:
`config` only reads and validates the file. When neither is installed the tests FAIL, saying how
to install it, rather than skip: a skipped check is a check nobody runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
INSTALL_COMMAND = "apt-get update && apt-get install -y --no-install-recommends docker-compose"

# service -> (port published on the host and listened on in the container, Python package)
APPS = {
    "catalog": (8001, "catalog"),
    "orders": (8002, "orders"),
    "payments": (8003, "payments"),
    "notifications": (8004, "notifications"),
    "midtrans": (8005, "midtrans_simulator"),
    "messaging": (8006, "messaging_simulator"),
    "web": (8000, "web"),
}
SERVICE_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "MONGODB_URL": "mongodb://mongo:27017/?replicaSet=rs0",
}


@cache
def compose_command() -> tuple[str, ...]:
    """`docker-compose` (V1, Debian's package), else `docker compose` (the V2 plugin)."""
    if (v1 := shutil.which("docker-compose")) is not None:
        return (v1,)
    if (docker := shutil.which("docker")) is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return (docker, "compose")
    pytest.fail(
        "neither `docker-compose` nor `docker compose` is installed, so docker-compose.yml "
        f"cannot be validated. Install it (no Docker engine needed), as root: {INSTALL_COMMAND}",
        pytrace=False,
    )


def run_compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose_command(), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )


@cache
def compose_config() -> dict[str, Any]:
    """The file as docker compose resolves it (anchors and merge keys applied)."""
    try:
        import yaml
    except ImportError:
        return _config_without_pyyaml()
    config = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(config, dict)
    return cast(dict[str, Any], config)


def _config_without_pyyaml() -> dict[str, Any]:
    """Let compose print the resolved file, as JSON (V2) or as YAML that compose's own Python,
    which always has PyYAML, turns into JSON (V1)."""
    command = compose_command()
    if command[-1] == "compose":
        result = run_compose("config", "--format", "json")
        assert result.returncode == 0, result.stderr
        return cast(dict[str, Any], json.loads(result.stdout))
    result = run_compose("config")
    assert result.returncode == 0, result.stderr
    shebang = Path(command[0]).read_text(errors="replace").splitlines()[0]
    interpreter = shebang.removeprefix("#!").split()
    converted = subprocess.run(
        [*interpreter, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
        input=result.stdout,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return cast(dict[str, Any], json.loads(converted.stdout))


def services() -> dict[str, dict[str, Any]]:
    return cast(dict[str, dict[str, Any]], compose_config()["services"])


def published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host, container) pairs, from the short ("8001:8001") or the long syntax."""
    pairs = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            pairs.add((int(entry["published"]), int(entry["target"])))
        else:
            host, container = str(entry).split("/")[0].rsplit(":", 2)[-2:]
            pairs.add((int(host), int(container)))
    return pairs


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...]
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def dockerfile_of(service: dict[str, Any]) -> Path:
    build = service["build"]
    if isinstance(build, str):
        return REPO_ROOT / build / "Dockerfile"
    context = REPO_ROOT / str(build.get("context", "."))
    return context / str(build.get("dockerfile", "Dockerfile"))


def test_compose_config_is_valid() -> None:
    result = run_compose("config", "-q")
    assert result.returncode == 0, f"{' '.join(compose_command())} config -q failed:\n{result.stderr}"


def test_infrastructure_services_are_defined() -> None:
    defined = services()
    assert defined["kafka"]["image"] == "apache/kafka:4.1.1"
    assert defined["mongo"]["image"] == "mongo:8.0"
    assert "--replSet" in defined["mongo"]["command"] and "rs0" in defined["mongo"]["command"]
    assert "healthcheck" in defined["mongo"] and "healthcheck" in defined["kafka"]
    kafka_env = environment(defined["kafka"])
    assert kafka_env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert kafka_env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert "kafka:9092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]


def test_topic_init_creates_the_contract_topics() -> None:
    from beli_contracts.topics import ALL_TOPICS, PARTITIONS

    command = services()["kafka-init"]["command"]
    script = " ".join(command) if isinstance(command, list) else str(command)
    for topic in ALL_TOPICS:
        assert topic in script, f"kafka-init does not create {topic}"
    assert f"--partitions {PARTITIONS}" in script


@pytest.mark.parametrize("name", sorted(APPS))
def test_app_publishes_its_port(name: str) -> None:
    port, _ = APPS[name]
    assert (port, port) in published_ports(services()[name])


@pytest.mark.parametrize("name", sorted(APPS))
def test_app_dockerfile_exists_and_serves_its_port(name: str) -> None:
    port, package = APPS[name]
    dockerfile = dockerfile_of(services()[name])
    assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
    text = dockerfile.read_text()
    assert "FROM python:3.11-slim" in text
    args = services()[name]["build"].get("args", {})
    if args:  # the shared services/Dockerfile: which app and port come from the build arguments
        assert (args.get("SERVICE"), str(args.get("PORT"))) == (package, str(port)), args
        assert "uvicorn" in text and "${SERVICE}.main:app" in text and "--port" in text and "${PORT}" in text
        assert (REPO_ROOT / "services" / package / package / "main.py").is_file()
    else:
        assert f'"{package}.main:app"' in text and f'"--port", "{port}"' in text


def test_every_referenced_dockerfile_exists() -> None:
    built = {name: s for name, s in services().items() if "build" in s}
    assert set(APPS) <= set(built)
    missing = {name: str(dockerfile_of(s)) for name, s in built.items() if not dockerfile_of(s).is_file()}
    assert not missing, f"Dockerfiles not found: {missing}"


@pytest.mark.parametrize("name", ["catalog", "orders", "payments", "notifications"])
def test_services_reach_kafka_and_mongo_inside_the_network(name: str) -> None:
    env = environment(services()[name])
    for key, value in SERVICE_ENV.items():
        assert env.get(key) == value, f"{name}: {key}={env.get(key)!r}"


def test_payments_and_simulator_know_each_other() -> None:
    payments, midtrans = environment(services()["payments"]), environment(services()["midtrans"])
    assert payments["MIDTRANS_SNAP_BASE_URL"] == "http://midtrans:8005/snap/v1"
    assert payments["MIDTRANS_CORE_BASE_URL"] == "http://midtrans:8005"
    assert midtrans["MIDTRANS_NOTIFICATION_URL"] == "http://payments:8003/midtrans/notification"
    assert midtrans["SIMULATOR_PUBLIC_URL"] == "http://localhost:8005"


def test_web_app_calls_the_services_by_their_compose_names() -> None:
    env = environment(services()["web"])
    assert env["CATALOG_URL"] == "http://catalog:8001" and env["ORDERS_URL"] == "http://orders:8002"
    assert env["PAYMENTS_URL"] == "http://payments:8003" and env["NOTIFICATIONS_URL"] == "http://notifications:8004"
