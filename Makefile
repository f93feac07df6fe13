# geomon: `make demo` runs the monitor on an embedded Kafka broker; `make test` runs every test.
# Each target builds the virtual environment only when it is missing or pyproject.toml changed.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv compile demo test lint bench eval schemas clean prometheus

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The coder's modules compiled to C by mypyc (setup.py), rebuilt whenever one of them changes;
# GEOMON_PURE=1 leaves them pure Python (so does a machine without a C compiler).
CODER_PY := $(wildcard streams/coding/*.py)
COMPILED := $(VENV)/.compiled

# A compiled coder deleted by hand is rebuilt too (where a C compiler could build it).
ifeq ($(GEOMON_PURE)$(wildcard streams/coding/_compiled__mypyc*.so),)
ifneq ($(shell command -v cc),)
$(shell rm -f $(COMPILED))
endif
endif

$(COMPILED): $(STAMP) setup.py $(CODER_PY)
	@rm -f streams/coding/*.so
	@echo 'compiling the coder with mypyc (setup.py) …' >&2
	@$(BIN)/python setup.py -q build_ext --inplace --force 2>&1 | grep -v -e Warning -e warnings.warn >&2 || true
	@touch $(COMPILED)

compile: $(COMPILED)

demo: $(COMPILED)
	$(BIN)/geomon demo $(ARGS)

test: $(COMPILED) prometheus
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A Prometheus server for tests/integration/test_prometheus.py (Debian's package; the test runs
# the binary itself on a free port, so the packaged service is kept from starting).
prometheus:
	@if ! command -v prometheus >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing Debian's prometheus package for the tests"; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			prometheus >/dev/null && \
		if [ -d /run/systemd/system ]; then $$SUDO systemctl disable --now prometheus || true; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check streams alerts tests bench
	$(BIN)/ruff format --check streams alerts
	$(BIN)/mypy

bench: $(COMPILED)
	$(BIN)/python bench/run_all.py

eval: $(COMPILED)
	$(BIN)/geomon eval ../shared/eval/*.jsonl

schemas: $(STAMP)
	$(BIN)/python -m streams.schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .geomon-data build streams/coding/*.so
