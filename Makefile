# The two commands a newcomer needs:
#   make demo   set up everything, build the browser app, load the demo project, run web + worker
#   make test   set up everything the tests need (browser app included) and run every test
#
# Both build .venv with the machine's Python 3.11 and reinstall only when
# pyproject.toml changes. DATABASE_URL / CELERY_BROKER_URL in the environment
# point the same code at PostgreSQL and Redis (see .ci/run).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test install install-test frontend frontend-test frontend-types frontend-types-check clean

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

# The browser app (frontend/, served by labelops.web). node_modules follows
# package-lock.json (reinstalled only when the lock changes, like the venv and
# pyproject.toml); dist/ is rebuilt when a source file changes.
# `npm install --no-save` installs the locked versions without rewriting the
# lock. Not `npm ci`: the registry proxy on the build machines serves only
# linux-x64 builds of rollup's and esbuild's per-platform optional packages,
# so the lock omits the other platforms' and `npm ci` refuses it as out of sync.
FRONTEND := frontend
NPM ?= npm
FRONTEND_SOURCES := $(shell find $(FRONTEND)/src -type f) \
	$(addprefix $(FRONTEND)/,index.html vite.config.ts tsconfig.json package.json)

$(FRONTEND)/node_modules/.installed: $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && $(NPM) install --no-save --no-audit --no-fund
	touch $@

$(FRONTEND)/dist/index.html: $(FRONTEND)/node_modules/.installed $(FRONTEND_SOURCES)
	cd $(FRONTEND) && $(NPM) run build

frontend: $(FRONTEND)/dist/index.html

frontend-test: $(FRONTEND)/node_modules/.installed
	cd $(FRONTEND) && $(NPM) test

# The browser app's API types are generated, not written: manage.py
# spectacular writes the OpenAPI schema (no database needed), and
# openapi-typescript turns it into $(API_TYPES), which is committed.
# package.json's api-types script holds its options: --default-non-nullable
# false keeps a field with a default optional, as the schema's `required`
# says (a request may leave it out). `make frontend-types` rewrites the file
# after a serializer changes; `make test` runs frontend-types-check, which
# generates into a temporary folder and fails if the committed file differs.
API_TYPES := $(FRONTEND)/src/api/schema.d.ts
# $(call api-types,FOLDER): the schema, then FOLDER/schema.d.ts from it.
api-types = $(BIN)/python manage.py spectacular --file "$(1)/openapi.yaml" && \
	(cd $(FRONTEND) && $(NPM) run --silent api-types -- "$(1)/openapi.yaml" --output "$(1)/schema.d.ts")

frontend-types: $(VENV)/.installed $(FRONTEND)/node_modules/.installed
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(call api-types,$$tmp) && { cmp -s "$$tmp/schema.d.ts" $(API_TYPES) || cp "$$tmp/schema.d.ts" $(API_TYPES); }

frontend-types-check: $(VENV)/.installed $(FRONTEND)/node_modules/.installed
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(call api-types,$$tmp) && \
	if ! diff -u $(API_TYPES) "$$tmp/schema.d.ts" > "$$tmp/diff"; then \
		head -n 60 "$$tmp/diff"; \
		echo "the browser app's API types are stale: run \`make frontend-types\`" >&2; exit 1; \
	fi; \
	echo "the browser app's API types match the schema"

demo: install frontend
	$(BIN)/python manage.py run_demo

# Lint, then types: mypy checks the engine whole and the domain services
# with django-stubs' plugin (its config is [tool.mypy] in pyproject.toml),
# cached in .mypy_cache: about a minute the first time, seconds after. Then
# the tests.
TYPED := ssl_engine labelops/projects/services.py labelops/audit/services.py \
	labelops/annotation/services labelops/quality/services labelops/learning/services

test: install-test frontend
	$(BIN)/ruff check labelops ssl_engine tests
	$(BIN)/mypy $(TYPED)
	$(MAKE) frontend-types-check
	$(MAKE) frontend-test
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) var .mypy_cache $(FRONTEND)/node_modules $(FRONTEND)/dist
