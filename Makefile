# Quantsite: `make run` sets everything up from a fresh clone and runs the platform;
# `make test` runs the test suite (what .ci/run runs against PostgreSQL and Redis).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint format migrate clean

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

run: migrate node_modules/.installed
	$(BIN)/python manage.py create_demo_users
	$(BIN)/python scripts/run_platform.py --host $(HOST) --port $(PORT)

test: $(VENV)/.installed node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	# jupyter_server's own contents tests against quanthub's ContentsManager (own session)
	$(BIN)/python -m pytest -c quanthub/tests/upstream/pytest.ini \
		--confcutdir=quanthub/tests/upstream quanthub/tests/upstream

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules var staticfiles .pytest_cache .ruff_cache
