# Qingfeng: `make run` serves on http://127.0.0.1:8080 with the sandbox; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CONFIG ?= config.toml

.PHONY: run init test lint bench fuzz clean help soak screenshots

help:
	@echo "make run    - install, initialise var/qingfeng.db and serve on http://127.0.0.1:8080"
	@echo "make test   - lint and run the whole test suite"
	@echo "make bench  - run the benchmarks (see docs/benchmarks.md)"
	@echo "make fuzz   - the fuzz tests, long profile (200,000 examples per entry point, new seeds)"
	@echo "make soak   - the fault and crash tests at full size (10,000 members, 20 kills each)"
	@echo "make screenshots - every console page and /sim at 390 and 1280 px, demo data, in build/screenshots/"

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

# The fuzz tests run in `make test` too, with the repeatable "ci" profile (10,000 examples per
# entry point); this is the long run, random seeds each time (tests/fuzz/__init__.py).
fuzz: $(VENV)/.dev
	QINGFENG_FUZZ=long $(VENV)/bin/pytest -n 2 --dist loadfile -q tests/test_fuzz_*.py

# The fault and kill -9 tests, long: QF_SOAK_MEMBERS members in the 30%-faults fan-out,
# QF_SOAK_CRASH_LOOPS random kills per crash test (QF_CRASH_SEED replays a run).
QF_SOAK_MEMBERS ?= 10000
QF_SOAK_CRASH_LOOPS ?= 20
soak: $(VENV)/.dev
	QF_SOAK_MEMBERS=$(QF_SOAK_MEMBERS) QF_SOAK_CRASH_LOOPS=$(QF_SOAK_CRASH_LOOPS) \
		$(VENV)/bin/pytest -q -s -p no:cacheprovider tests/test_faults_fanout.py \
		tests/test_faults_store.py tests/test_crash_loop.py tests/test_crash_fanout.py

# The page walk of tests/test_pages_browser.py (demo data, as an admin) also saves each page it
# checks, full length, as build/screenshots/<page>-<width>.png: look at them before committing.
SCREENSHOTS ?= build/screenshots
screenshots: $(VENV)/.dev
	mkdir -p $(SCREENSHOTS) && rm -f $(SCREENSHOTS)/*.png
	QF_SCREENSHOTS=$(SCREENSHOTS) $(VENV)/bin/pytest -q -p no:cacheprovider tests/test_pages_browser.py
	@echo "screenshots in $(SCREENSHOTS)/"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
