# meetings-warehouse: the front door.  `make run` does the whole job; `make test` checks everything.
# Every target first runs `setup` (installs uv if missing, then `uv sync --frozen`), which is
# idempotent and takes well under a second when nothing changed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen --no-sync
PY := $(RUN) python

export RUNTIME__DLTHUB_TELEMETRY ?= false
export DBT_SEND_ANONYMOUS_USAGE_STATS ?= false
export DO_NOT_TRACK ?= 1
export UV_PYTHON_DOWNLOADS ?= never

.PHONY: help setup setup-all load transform recordings run publish orchestrate webhooks test test-fast lint bench sandbox truth doctor docs report clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: .venv/.synced  ## install uv (if missing) and the locked environment

# --inexact: an optional group installed by its own target (orchestrate, youtube) stays installed
.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --inexact --quiet
	@touch $@

setup-all: setup  ## install every optional group too (Dagster + webhooks, YouTube)
	@$(UV) sync --frozen --inexact --quiet --all-groups

load: setup  ## harvest Zoom + MEETS into warehouse/meetings.duckdb (the embedded sandbox without credentials)
	$(PY) -m pipelines load

transform: setup  ## dbt build (seeds, models, tests) on the warehouse
	$(PY) -m pipelines transform

recordings: setup  ## copy recording files to object storage (./recordings by default)
	$(PY) -m pipelines recordings

run: setup  ## the whole job: load + transform + recordings (+ publish when a channel is set), one summary
	@if $(PY) -m pipelines publish --configured >/dev/null 2>&1; then $(UV) sync --frozen --inexact --quiet --group youtube; fi
	$(PY) -m pipelines run

publish: setup  ## upload the best recording of each meeting to YouTube (the emulator without a channel)
	@$(UV) sync --frozen --inexact --quiet --group youtube
	$(PY) -m pipelines publish

orchestrate: setup  ## Dagster (webserver on 127.0.0.1 + daemon): schedules, sensors, the whole flow as assets
	@$(UV) sync --frozen --inexact --quiet --group orchestrate
	$(PY) -m pipelines orchestrate

webhooks: setup  ## the Zoom webhook receiver (events queued durably for the Dagster sensor)
	@$(UV) sync --frozen --inexact --quiet --group orchestrate
	$(PY) -m pipelines webhooks

# two pytest-xdist workers, each running whole files (module fixtures are built once); the suite
# mostly waits on subprocesses, servers and rate limits, so two keep both cores busy
TEST_WORKERS ?= 2

test: setup-all lint  ## everything that must pass: lint + the pytest suites (every optional group)
	$(RUN) pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: setup  ## unit tests only
	$(RUN) pytest -q tests/unit

lint: setup  ## ruff + sqlfluff
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	@if [ -d dbt_project/models ]; then cd dbt_project && $(RUN) sqlfluff lint models --processes 2; fi

bench: setup  ## benchmarks; results land in bench/results/*.json
	@for b in bench/*.py; do [ -f "$$b" ] && echo "== $$b" && $(PY) "$$b" || exit 1; done

sandbox: setup  ## run the sandbox standalone and print its URLs and test credentials
	$(PY) -m pipelines sandbox serve

truth: setup  ## write the sandbox ground truth for the default scale to warehouse/sandbox_truth.json
	$(PY) -m pipelines sandbox truth --out warehouse/sandbox_truth.json

docs: setup  ## generate and serve the dbt docs (every model and column documented)
	$(PY) -m pipelines docs --serve

report: setup  ## the notebooks as self-contained HTML under reports/ (plots as SVG: open offline)
	$(PY) -m pipelines report

doctor: setup  ## check the configuration and explain what is missing (never prints secrets)
	$(PY) -m pipelines doctor

clean:  ## remove the warehouse, local recordings, dlt/dbt working files and caches
	rm -rf warehouse recordings reports .dlt/pipelines dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
