# fedq: `make test` and `make demo` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -P -m pytest  # -P: import the installed fedq, never ./fedq (tests/conftest.py)

# TPC-H SF 0.1 over PostgreSQL + SQLite + Parquet, fedq vs peers: benchmarks/results/local/tpch-sf0.1-mixed.{json,md,png}
# (untracked); `make bench PUBLISH=1` updates the published benchmarks/results/ instead.
bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python -m benchmarks.tpch --sf 0.1 --layout mixed --runs 3 $(if $(PUBLISH),--publish)

demo: $(STAMP)
	$(BIN)/fedq demo

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
