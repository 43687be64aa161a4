# growth-warehouse: `make demo` runs the pipeline, `make test` runs the checks.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The suite runs one worker per core (at most 4), each test file on one worker, so a file's
# shared fixtures (a built warehouse, a simulated population) are built once.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install manifest demo test lint format bench ui clean chromium java

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project (only when missing or stale)

# The dbt manifest Dagster loads its assets from, parsed again whenever a dbt file is newer
# (`dagster dev` also re-parses on load).
MANIFEST := dbt_project/target/manifest.json
$(MANIFEST): $(STAMP) $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml dbt_project/profiles.yml
	cd dbt_project && ../$(BIN)/dbt parse --quiet --no-partial-parse --profiles-dir . --target-path target
	@touch $(MANIFEST)

manifest: $(MANIFEST) ## parse the dbt project when a model, macro or test changed

demo: $(STAMP) $(MANIFEST) ## run the whole pipeline on embedded defaults (broker, simulate, ingest, build, report)
	$(BIN)/growth demo

test: $(STAMP) $(MANIFEST) lint chromium java ## lint, then run the test suite (real broker, DuckDB, dbt, Chromium)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

chromium: ## install Debian's chromium for the browser tests when it is missing and we are root
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (Debian package) for the report tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

java: ## install Debian's Java 17 for the Spark engine's tests when it is missing and we are root
	@if ! command -v java >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing openjdk-17-jre-headless (Debian package) for the Spark tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	fi

lint: $(STAMP) ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check warehouse ingest transforms devkit analysts delivery orchestration tests benchmarks
	$(BIN)/ruff format --check warehouse ingest transforms devkit analysts delivery orchestration tests benchmarks
	$(BIN)/mypy warehouse ingest transforms devkit analysts delivery orchestration

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix warehouse ingest transforms devkit analysts delivery orchestration tests benchmarks
	$(BIN)/ruff format warehouse ingest transforms devkit analysts delivery orchestration tests benchmarks

bench: $(STAMP) ## run the benchmarks and print their figures
	$(PY) benchmarks/simulate.py
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/build.py

ui: $(STAMP) $(MANIFEST) ## start the Dagster UI on http://127.0.0.1:3000
	mkdir -p data/dagster && cp orchestration/dagster.yaml data/dagster/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/data/dagster $(BIN)/dagster dev --host 127.0.0.1 --port 3000

clean: ## remove run-time data and reports (keeps .venv)
	rm -rf data reports dbt_project/target dbt_project/logs
