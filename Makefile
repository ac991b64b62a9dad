# vault: `make run` serves on http://127.0.0.1:$(PORT); `make test` runs the suite.
PYTHON ?= python3
PORT ?= 5000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-s3 lint format bench screenshots clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# gunicorn as in production, not Werkzeug's development server (a thread per
# connection, however slow the client).
run: $(STAMP)
	$(BIN)/flask --app vault db upgrade
	VAULT_BIND=127.0.0.1:$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The tests that touch stored bytes again, with a bucket on a local S3 API
# server (moto) instead of a folder; tests of local-disk features are skipped.
test-s3: $(STAMP)
	VAULT_TEST_STORAGE=s3 $(BIN)/python -m pytest -q -m bytes

screenshots: $(STAMP)
	VAULT_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/browser

# The bench extra (copyparty); nginx and wrk come from Debian (apt-get install nginx wrk).
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
