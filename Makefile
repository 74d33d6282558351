# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The suite runs twice: on SQLite, then on this PostgreSQL (each test gets its own schema).
BERTH_TEST_PG ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: serve test lint

$(BIN)/berth: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

serve: $(BIN)/berth
	$(BIN)/berth serve $(ARGS)

lint: $(BIN)/berth
	$(BIN)/ruff check berth tests benchmarks
	$(BIN)/ruff format --check berth tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest
	BERTH_TEST_DATABASE_URL=$(BERTH_TEST_PG) $(BIN)/python -m pytest
