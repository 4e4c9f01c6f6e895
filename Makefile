# Qingfeng: `make run` serves on http://127.0.0.1:8080 with the sandbox; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CONFIG ?= config.toml

.PHONY: run init test lint bench clean help

help:
	@echo "make run    - install, initialise var/qingfeng.db and serve on http://127.0.0.1:8080"
	@echo "make test   - lint and run the whole test suite"
	@echo "make bench  - run the benchmarks (see docs/benchmarks.md)"

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt $(VENV)/.runtime
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

init: $(VENV)/.runtime
	$(PY) -m bot --config $(CONFIG) init

run: init
	$(PY) -m bot --config $(CONFIG) serve

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

test: lint
	$(VENV)/bin/pytest -n 2 --dist loadfile -q

bench: $(VENV)/.dev
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
