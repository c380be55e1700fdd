"""Which infrastructure the suite runs on (BELI_TEST_INFRA): the selection logic."""

import pytest

from infra.containers import InfraChoiceError, choose_backend, kafka_environment


def never() -> bool:
    raise AssertionError("the Docker engine must not be probed for the default")


def test_default_is_local_processes_without_asking_docker() -> None:
    assert choose_backend(None, never) == "processes"
    assert choose_backend("", never) == "processes"
    assert choose_backend("processes", never) == "processes"


def test_containers_when_docker_answers() -> None:
    assert choose_backend("containers", lambda: True) == "containers"
    assert choose_backend("AUTO", lambda: True) == "containers"


def test_auto_falls_back_to_processes_without_docker() -> None:
    assert choose_backend("auto", lambda: False) == "processes"


def test_containers_without_docker_is_a_clear_error() -> None:
    with pytest.raises(InfraChoiceError, match="no Docker engine"):
        choose_backend("containers", lambda: False)


def test_unknown_choice_is_refused() -> None:
    with pytest.raises(InfraChoiceError, match="expected one of processes, containers, auto"):
        choose_backend("kubernetes", lambda: True)


def test_the_broker_advertises_the_port_it_is_published_on() -> None:
    env = kafka_environment(40123)
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://localhost:40123"
    assert env["KAFKA_LISTENERS"].startswith("PLAINTEXT://:40123,")
