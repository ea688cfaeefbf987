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

# Debian packages the tests need: Chromium for the browser tests, CJK fonts for PDFs.
system-packages:
	@bash scripts/system-packages.sh

# Runs the site on SQLite with in-process tasks, loads reference and demo data, prints the logins.
demo: install
	mkdir -p var
	DEBUG=1 $(BIN)/python manage.py migrate --no-input
	DEBUG=1 $(BIN)/python manage.py loaddata reference
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

# Runs the whole test suite against PostgreSQL and Redis on 127.0.0.1 (override with DATABASE_URL / REDIS_URL).
test: install system-packages
	$(BIN)/ruff check .
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
