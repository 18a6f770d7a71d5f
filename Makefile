# `make demo` and `make test` each build .venv from nothing, then do their job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/wiflab demo

# Every test (threads mode), then the end-to-end suite again with each part under gunicorn.
# (The sample clients' tests start a stack of their own: once is enough.)
test: $(STAMP) lint
	$(BIN)/pytest -n 2
	$(BIN)/pytest -n 2 e2e --stack-mode=processes --ignore=e2e/test_sample_clients.py

# Style, the layers contract of DESIGN.md (pyproject's [tool.importlinter]), and types.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

# Bounded, loopback only, both modes: chains under load and key rotation, RSS growth, recovery
# after the IdP is killed, latency beside slow clients (bench/soak.py). A few minutes.
soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache
