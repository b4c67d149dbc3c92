# `make demo` runs the product on its embedded default; `make test` runs every test.
# Each target creates or refreshes .venv from pyproject.toml when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint bench serve clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/chinup demo

serve: $(STAMP)
	$(BIN)/chinup serve

# Two workers, each module on one of them (its database, server and browser stay its own): the suite is
# mostly waiting on servers, browsers and the analysis settling, so two halve it on two cores. Tests marked
# serial restart the PostgreSQL server the others share, so they run alone afterwards.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadscope -m "not serial"
	$(BIN)/python -m pytest -q -m serial

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
