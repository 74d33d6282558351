# The two commands of the README: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The suite runs twice: on SQLite and on this PostgreSQL (each test gets its own schema).
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

# The two runs go side by side (each spends much of its time waiting on servers and clients);
# the PostgreSQL run's report follows the SQLite one's, and either failing fails the target.
test: lint
	@log=$$(mktemp); \
	BERTH_TEST_DATABASE_URL=$(BERTH_TEST_PG) $(BIN)/python -m pytest -p no:cacheprovider \
		>"$$log" 2>&1 & pg=$$!; \
	$(BIN)/python -m pytest; sqlite=$$?; \
	wait $$pg; postgres=$$?; \
	echo "--- the same suite on PostgreSQL ($(BERTH_TEST_PG))"; cat "$$log"; rm -f "$$log"; \
	test $$sqlite -eq 0 && test $$postgres -eq 0
