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

# Benchmarks: tpmeta against metafor (R, from Debian's packages when apt-get is usable), PyMARE and
# statsmodels (installed into .venv-bench only, never as dependencies of tpmeta); one table.
BENCH := .venv-bench
$(BENCH)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH)/bin/python -m pip install --quiet -e ".[report]" pymare statsmodels
	touch $@

bench: $(BENCH)/.installed
	@command -v Rscript >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-base-core r-cran-metafor >/dev/null; } || \
	  echo "note: Rscript not available; metafor is left out of the table"
	MPLBACKEND=Agg $(BENCH)/bin/python benchmarks/bench.py

# Regenerate metafor reference values (needs R with metafor and metadat; tests never do).
reference:
	for f in tests/reference/*.R; do Rscript "$$f"; done

clean:
	rm -rf $(VENV) $(BENCH) build src/*.egg-info .pytest_cache .hypothesis
