# FamilyLine: `make run` (the app on an embedded default) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# The suite's services (override either on the command line or in the environment).
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/familyline
REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_ENV := DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL)
# `make run` and `make smoke` use the embedded default, whatever the environment says.
LOCAL_ENV := env -u DATABASE_URL -u CELERY_BROKER_URL -u REDIS_URL DJANGO_SETTINGS_MODULE=config.settings.local

.PHONY: run test suite smoke lint venv browser local-setup clean bench

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

# Debian's Chromium for the browser tests (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium for the browser tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# `make run` and `make smoke` run on their own PostgreSQL (scripts/services.py: the embedded server, data
# kept in var/pg; RUN_DATABASE_URL points them at another server), migrated and seeded first.
SERVICES_RUN := $(LOCAL_ENV) $(PY) scripts/services.py run --
LOCAL_SETUP := $(PY) manage.py migrate --noinput && $(PY) manage.py seed_demo

local-setup: venv
	mkdir -p var/broker/out var/broker/processed

run: local-setup
	@echo ""
	@echo "  FamilyLine is starting at http://127.0.0.1:$(PORT)/  (staff admin: http://127.0.0.1:$(PORT)/admin/)"
	@echo "  Ctrl-C stops the web server, the Celery worker and beat, localstripe and PostgreSQL."
	@echo ""
	$(SERVICES_RUN) bash -c '$(LOCAL_SETUP) && WEB_PORT=$(PORT) exec $(VENV)/bin/honcho -f Procfile.dev start'

# The suite on DATABASE_URL and REDIS_URL when they answer; otherwise on services it starts for the run.
test: venv browser
	@$(TEST_ENV) $(PY) scripts/services.py test -- $(MAKE) --no-print-directory suite

suite:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(TEST_ENV) $(PY) -m mypy
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run --settings=config.settings.test >/dev/null \
	  || { echo "Models and migrations differ: run manage.py makemigrations."; exit 1; }
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

smoke: local-setup
	$(SERVICES_RUN) bash -c '$(LOCAL_SETUP) && WEB_PORT=$(PORT) bash scripts/smoke.sh'

# Benchmarks (figures and ratios, never part of `make test`): the platform API over HTTP with wrk.
bench: venv
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "Installing wrk for the HTTP benchmark..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(TEST_ENV) $(PY) bench/api_http.py $(BENCH_ARGS)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf var
