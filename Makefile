# The two commands: `make serve` runs the server on the embedded defaults, `make test` runs
# the checks. Each bootstraps the virtualenv it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `serve` needs the runtime dependencies only (`pip install -e .`); the checks and
# benchmarks add the dev tools (`.[dev]`). Each is redone when pyproject.toml changes.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed

.PHONY: serve test lint typecheck pytest bench bench-processing bench-reveal bench-push bench-auth bench-export bench-realtime bench-legacy clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUNTIME)

$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(RUNTIME) $(DEV)

serve: $(RUNTIME)
	$(BIN)/momento serve

lint: $(DEV)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(DEV)
	$(BIN)/mypy

pytest: $(DEV)
	$(BIN)/pytest -q

test: lint typecheck pytest

# src/momento/sql/schema.sql, the schema as the migrations leave it (a fresh embedded
# PostgreSQL, migrated, then pg_dump): run after adding a migration; tests/test_schema.py checks it.
.PHONY: schema
schema: $(DEV)
	$(BIN)/python -m momento.db.snapshot

# Benchmarks: add a bench-<name> rule per script and list it on the `bench` line.
bench: bench-processing bench-reveal bench-push bench-auth bench-export bench-realtime bench-legacy

bench-processing: $(DEV)
	$(BIN)/python bench/processing.py

# The reveal feed over HTTP (wrk) against the same query run directly (pgbench).
bench-reveal: $(DEV)
	$(BIN)/python bench/reveal.py

# The reveal push job for 10,000 members against the fake APNs vs the raw sender.
bench-push: $(DEV)
	$(BIN)/python bench/push.py

# Sign-in and refresh over HTTP beside argon2id verifications per second (the hash's own cost).
bench-auth: $(DEV)
	$(BIN)/python bench/auth.py

# An event's 500 photos (~4 MB each) as one ZIP over HTTP against reading the same files from
# the storage, and the server's peak memory while it streams.
bench-export: $(DEV)
	$(BIN)/python bench/export.py

# 2,000 realtime streams on one event: photo delivery, the reveal flip, memory and idle CPU
# against the same clients polling the feed.
bench-realtime: $(DEV)
	$(BIN)/python bench/realtime.py

# `momento legacy import` of 1,000,000 photos and 5,000,000 likes vs a plain COPY of the same rows.
bench-legacy: $(DEV)
	$(BIN)/python bench/legacy.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
