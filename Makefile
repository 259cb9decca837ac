# Two entry points for a fresh machine: `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test report bench clean reference

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -q

report: $(STAMP)
	MPLBACKEND=Agg $(BIN)/tpmeta report

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pooling.py
	$(BIN)/python benchmarks/bench_analyses.py

# Regenerate metafor reference values (needs R with metafor and metadat; tests never do).
reference:
	for f in tests/reference/*.R; do Rscript "$$f"; done

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .hypothesis
