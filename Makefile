# Two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench hostile check-deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run pip only when a requirements file changes.
$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-deps: requirements-test.txt requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

# migrate loads the seed content into a fresh database (topics migration 0002);
# `manage.py load_content` restores missing seed items on demand, so it is not
# run here: a seed topic an administrator deleted stays deleted.
run: $(VENV)/.run-deps
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=1 $(BIN)/daphne -b $(HOST) -p $(PORT) learning_platform.asgi:application

test: $(VENV)/.test-deps
	$(BIN)/python -m pytest

bench: $(VENV)/.test-deps
	$(BIN)/python -m bench

# Issue 7's attacks against the real server, and what another visitor sees meanwhile.
hostile: $(VENV)/.test-deps
	$(BIN)/python -m bench.hostile

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .hypothesis
