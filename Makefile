# The README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip

.PHONY: setup setup-tests demo test lint

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

setup: $(VENV)/bin/python
	$(PIP) install -q -e .

setup-tests: $(VENV)/bin/python
	./scripts/system-deps.sh
	$(PIP) install -q -e '.[dev]'

demo: setup
	$(VENV)/bin/custodywatch demo

# Everything CI does: system packages, venv, broker, lint, types, tests (.ci/run).
test:
	bash .ci/run

lint: setup-tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
