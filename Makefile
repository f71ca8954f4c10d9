# The README's commands: `make up` and `make test` bootstrap .venv on a fresh machine, then run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test check lint typecheck layers bootstrap clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

bootstrap: $(STAMP)

up: $(STAMP)
	$(BIN)/zeroserve up $(ARGS)

test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check zeroserve tests bench
	$(BIN)/ruff format --check zeroserve tests bench

typecheck: $(STAMP)
	$(BIN)/mypy zeroserve tests bench

layers: $(STAMP)
	$(BIN)/lint-imports

check: lint typecheck layers test

clean:
	rm -rf $(VENV)
