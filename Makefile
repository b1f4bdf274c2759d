# The two commands a newcomer needs: `make dev` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ASSETS := railsaas/static/vendor/.installed

.PHONY: dev test test-fast lint fmt install assets clean bench browser-deps

# Bytecode caches on, whatever the machine says: with PYTHONDONTWRITEBYTECODE set, every run
# (and each of test-fast's workers) recompiles the tree and rewrites every test module's
# asserts again, about ten seconds of CPU per process.
unexport PYTHONDONTWRITEBYTECODE

install: $(STAMP) $(ASSETS) uv.lock

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required" or 0)'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# What production installs (Railpack runs `uv sync --locked --no-dev`, docs/deploy.md): re-lock
# whenever pyproject.toml changes, then commit uv.lock. tests/deploy/test_lockfile.py checks it.
uv.lock: pyproject.toml | $(STAMP)
	$(VENV)/bin/uv lock
	touch $@

# htmx and Pico CSS come from the npm registry (lockfile), served from static/vendor: no CDN.
# `npm run build` (package.json) is the one copy step, also run by Railpack (railpack.json).
$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build
	touch $@

assets: $(ASSETS)

# The whole product on this machine: embedded PostgreSQL and Redis unless DATABASE_URL /
# REDIS_URL are set, emulators for Railway and Stripe, web + worker + beat. Ctrl-C stops it.
dev: install
	$(PY) -m devtools.devstack

# The whole suite. TEST_DATABASE_URL / TEST_REDIS_URL select servers; otherwise embedded ones.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The inner loop (under two minutes): the suite without the browser, resilience, fuzzing,
# first-run, end-to-end (a real Celery worker), process-starting and sweep tests (markers in
# pyproject.toml), on four pytest-xdist workers (a test spends much of its time waiting on a
# server, so four fit two cores). CI runs `make test`, all of it.
FAST := not browser and not resilience and not fuzz and not first_run and not e2e and not processes and not sweep and not slow
# What those markers leave out by whole directory is not even collected, and Schemathesis'
# pytest plugin (only the fuzz tests need it) is not loaded: seconds off every worker's start.
FAST_COLLECT := --ignore=tests/browser --ignore=tests/resilience --ignore=tests/api/test_fuzz.py -p no:schemathesis
WORKERS ?= 4
test-fast: install
	$(PY) -m pytest -m "$(FAST)" $(FAST_COLLECT) -n $(WORKERS) $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) node_modules railsaas/static/vendor .pytest_cache
