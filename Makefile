# Beli NTT: `make dev` runs the whole system locally, `make test` runs every test against real
# Kafka and the MongoDB-protocol server. Both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(PATH)

PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install tools dev stop status test test-cluster unit bench lint typecheck asyncapi

help:
	@echo "make dev     start Kafka, the database, the Midtrans simulator and the four services; seed demo data"
	@echo "make test    run the whole test suite against real infrastructure (started and stopped by the run)"
	@echo "make test-cluster  the three-broker kill test (also run by CI)"
	@echo "make stop    stop everything 'make dev' started"
	@echo "make status  what is running"
	@echo "make bench   payday-rush throughput benchmark on the test stack (BENCH_ARGS=\"--orders 300 --json out.json\")"
	@echo "make lint    ruff lint and format check, and mypy (part of make test)"
	@echo "make typecheck  mypy: strict on libs/ and each domain.py, plain elsewhere (part of make lint)"

install:
	@bash infra/bootstrap.sh

dev: install
	@uv run --frozen python infra/dev.py

stop:
	@uv run --frozen python infra/stack.py down --profile dev

status:
	@uv run --frozen python infra/stack.py status --profile dev

lint: install typecheck
	@uv run --frozen ruff check .
	@uv run --frozen ruff format --check .

# One run per top-level package: every service package is its own top level, and one run over
# all of them would meet several modules of the same name (api, store, ...). Settings: pyproject.toml.
SERVICE_PACKAGES := services/catalog/catalog services/orders/orders services/payments/payments \
	services/notifications/notifications services/programme/programme services/web/web

typecheck: install
	@uv run --frozen mypy libs/contracts/beli_contracts libs/runtime/beli_runtime
	@set -e; for package in $(SERVICE_PACKAGES); do uv run --frozen mypy $$package; done

tools: install
	@bash infra/bootstrap.sh tools

test: install tools lint
	@uv run --frozen pytest $(PYTEST_ARGS)

# Three Kafka nodes (RF 3, min ISR 2): the checkout goes on while one broker is SIGKILLed.
test-cluster: install
	@BELI_KAFKA_NODES=3 uv run --frozen pytest tests/cluster $(PYTEST_ARGS)

# Issue 11's instrument: shoppers place, pay and reach PAID end to end on the test profile's stack
# (BELI_TEST_SLOT picks the slot); prints rates, latencies, database operations and CPU per order,
# and the floor. Defaults: 2,000 orders by 64 shoppers (bench/throughput.py --help).
bench: install
	@uv run --frozen python bench/throughput.py $(BENCH_ARGS)

unit: install
	@uv run --frozen pytest -m "not infra" libs services/*/tests/test_domain.py $(PYTEST_ARGS)

# The events as AsyncAPI 3 (a test fails when docs/asyncapi.json no longer matches the contracts).
asyncapi: install
	@uv run --frozen python -m beli_contracts.asyncapi > docs/asyncapi.json
