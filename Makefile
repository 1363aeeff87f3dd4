# Stratus: `make run` sets everything up and starts it; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run compute-host test tempest load lint format lock system-packages system-packages-test

# One install stamp per set of extras: a checkout that ran on SQLite before installs the PostgreSQL
# driver when DATABASE_URL names PostgreSQL.
RUN_STAMP := $(VENV)/.run-installed$(if $(filter postgres% pgsql%,$(DATABASE_URL)),-postgresql)

run: system-packages $(RUN_STAMP) node_modules/.installed
	$(BIN)/python manage.py serve

# Only a compute agent (with its VNC relay and disk transfer endpoint) that joins a controller on
# another machine through its DATABASE_URL, REDIS_URL, SECRET_KEY and STRATUS_CONTROLLER_URL (see
# README, "Adding a compute host"). HOST and ZONE name it; images come through the image API.
compute-host: system-packages $(RUN_STAMP)
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" -a -n "$$SECRET_KEY" -a -n "$$STRATUS_CONTROLLER_URL" || \
		{ echo "compute-host needs DATABASE_URL, REDIS_URL, SECRET_KEY and STRATUS_CONTROLLER_URL" >&2; exit 2; }
	$(BIN)/python manage.py compute_agent $(if $(HOST),--host $(HOST)) --availability-zone $(or $(ZONE),nova)

# The suite runs on each of these database backends (a private PostgreSQL cluster for postgresql),
# side by side (scripts/test-backends; TEST_SERIAL=1 for one after the other): the first runs every
# test, the others only the tests that touch the database.
# `make test TEST_DATABASES=postgresql` runs everything on PostgreSQL alone; PYTEST_ARGS go to pytest.
TEST_DATABASES ?= sqlite postgresql

test: export CHROMIUM_PATH ?= /usr/bin/chromium
test: system-packages-test $(VENV)/.test-installed node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python manage.py makemigrations --check --dry-run
	PYTEST_ARGS="$(PYTEST_ARGS)" TEST_SERIAL="$(TEST_SERIAL)" scripts/test-backends $(TEST_DATABASES)

# OpenStack's Tempest API tests against a private stack (or URL=http://host:port of a running one,
# with ADMIN_PASSWORD); AREAS picks some of image, compute, volume. Not part of `make test`.
tempest: system-packages-test $(VENV)/.test-installed
	$(BIN)/python scripts/tempest.py $(if $(AREAS),--areas "$(AREAS)") $(if $(URL),--url "$(URL)") \
		$(if $(ADMIN_PASSWORD),--admin-password "$(ADMIN_PASSWORD)")

# bench/load.py: uploads, launches and list traffic while processes are killed, then what was lost.
# ARGS passes options (e.g. ARGS="--run-time 60"). Not part of `make test`.
load: system-packages-test $(VENV)/.test-installed
	$(BIN)/pip install -q -c requirements.lock -e '.[test,bench]'
	$(BIN)/python bench/load.py $(ARGS)

system-packages:
	scripts/system-packages run

system-packages-test:
	scripts/system-packages test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.run-installed: $(VENV)/bin/python pyproject.toml requirements.lock
	$(BIN)/pip install -q -c requirements.lock -e .
	touch $@

$(VENV)/.run-installed-postgresql: $(VENV)/bin/python pyproject.toml requirements.lock
	$(BIN)/pip install -q -c requirements.lock -e '.[postgresql]'
	touch $@ $(VENV)/.run-installed

# The test extra includes the PostgreSQL driver (the suite runs on both backends).
$(VENV)/.test-installed: $(VENV)/bin/python pyproject.toml requirements.lock
	$(BIN)/pip install -q -c requirements.lock -e '.[test]'
	touch $@ $(VENV)/.run-installed $(VENV)/.run-installed-postgresql

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

lint:
	$(BIN)/ruff check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the lock after changing pyproject.toml.
lock: $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[test,postgresql,bench]'
	$(BIN)/pip freeze --exclude-editable --exclude stratus > requirements.lock
