# The two commands a newcomer needs:
#   make demo   set up everything, load the demo project, run web + worker
#   make test   set up everything the tests need and run every test
#
# Both build .venv with the machine's Python 3.11 and reinstall only when
# pyproject.toml changes. DATABASE_URL / CELERY_BROKER_URL in the environment
# point the same code at PostgreSQL and Redis (see .ci/run).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/python manage.py run_demo

test: install-test
	$(BIN)/ruff check labelops ssl_engine tests
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var
