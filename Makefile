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

# Two workers (this machine kind has two cores); then the few real-time video tests alone.
test: setup-tests
	$(VENV)/bin/pytest -n 2 --dist loadgroup -m "not serial"
	$(VENV)/bin/pytest -m serial

lint: setup-tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
