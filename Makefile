# geomon: `make demo` runs the monitor on an embedded Kafka broker; `make test` runs every test.
# Each target builds the virtual environment only when it is missing or pyproject.toml changed.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv demo test lint bench eval schemas clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/geomon demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check streams alerts tests bench
	$(BIN)/ruff format --check streams alerts
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

eval: $(STAMP)
	$(BIN)/geomon eval ../shared/eval/*.jsonl

schemas: $(STAMP)
	$(BIN)/python -m streams.schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .geomon-data
