# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install system-packages lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

# Debian packages the tests need: Chromium for the browser tests, CJK fonts for PDFs, gettext for the catalogue test.
system-packages:
	@bash scripts/system-packages.sh

# Runs the site like production: embedded PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL are set),
# a Celery worker, Celery beat and the web server on http://127.0.0.1:8000/ with reference and demo data;
# prints every login with the page to open. Ctrl-C stops all of it.
demo: install
	DEBUG=1 $(BIN)/python scripts/demo.py

# Runs the whole test suite against PostgreSQL and Redis on 127.0.0.1, or the embedded ones when nothing
# listens there (override with DATABASE_URL / REDIS_URL).
test: install system-packages
	$(BIN)/ruff check .
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
