# Quantsite: `make run` sets everything up from a fresh clone and runs the platform;
# `make test` runs the test suite (what .ci/run runs against PostgreSQL and Redis);
# `make test-fast` is the inner loop (no live hubs, no browsers).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run run-prod test test-fast lint format migrate clean

# The virtual environment (site, test tools, and the hubs' JupyterHub + quanthub), rebuilt
# when the requirements change.
$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-hub.txt quanthub/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -r requirements-hub.txt
	touch $@

# JupyterHub's proxy (configurable-http-proxy), from npm into node_modules/.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput

# The platform in the foreground under honcho (Procfile); Ctrl-C stops all of it. Without
# REDIS_URL tasks run inline, so only the site and the hubs start (no worker, no beat).
SITE_URL      ?= http://$(HOST):$(PORT)
RUN_PROCESSES := $(if $(REDIS_URL),web worker beat hub-1 hub-2,web hub-1 hub-2)

run: migrate node_modules/.installed
	$(BIN)/python manage.py create_oidc_key
	$(BIN)/python manage.py create_demo_users
	@echo "Starting $(RUN_PROCESSES). Log in at $(SITE_URL)/ as demo / demo-password (staff:" \
		"ops / ops-password) and open $(SITE_URL)/research once both hubs say" \
		"'JupyterHub is now running'. Ctrl-C stops everything."
	PATH="$(CURDIR)/$(BIN):$$PATH" PYTHONUNBUFFERED=1 HOST=$(HOST) PORT=$(PORT) \
		SITE_URL=$(SITE_URL) $(BIN)/honcho start $(RUN_PROCESSES)

# The production topology on loopback (deploy/topology.py): PostgreSQL of its own behind
# PgBouncer, Redis, PROD_SITES site copies (3) behind HAProxy with TLS from a local CA, a
# bookkeeping and a render worker, one beat, S3 (moto) and an SMTP sink; state in var-prod/.
run-prod: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m deploy.topology run

# The inner loop: everything but the live hubs and the browsers, on the test database the last
# run left (--reuse-db; --create-db starts afresh), without the npm step.
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -m "not live and not browser" --reuse-db -n auto $(PYTEST_ARGS)

# Everything: the fast suite spread over the cores, then the live hubs and the browsers one at a
# time (their hubs take fixed ports), then jupyter_server's own contents tests.
test: $(VENV)/.installed node_modules/.installed
	$(BIN)/python -m pytest -m "not live and not browser" -n auto $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m "live or browser" $(PYTEST_ARGS)
	# jupyter_server's own contents tests against quanthub's ContentsManager (own session)
	$(BIN)/python -m pytest -c quanthub/tests/upstream/pytest.ini \
		--confcutdir=quanthub/tests/upstream quanthub/tests/upstream

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules var staticfiles .pytest_cache .ruff_cache
