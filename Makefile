# `make demo` and `make test` each build .venv from nothing, then do their job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

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

clean:
	rm -rf $(VENV) .pytest_cache
