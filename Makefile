# Quick start: `make run` (simulate the default scenario) and `make test`.
# Needs only Python 3.11+ and make; everything else goes into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-slurm lint bench figures validate docs doc-numbers clean

# `make run scenario=pilot replications=1000`: every KEY=VALUE given on make's command line
# (other than ARGS and PYTHON) is passed on to simulate.py as a Hydra override, like ARGS.
MAKE_VARS := ARGS PYTHON VENV PY STAMP
OVERRIDES = $(strip $(foreach v,$(filter-out $(MAKE_VARS),$(.VARIABLES)),\
	$(if $(filter command line,$(origin $(v))),'$(v)=$(value $(v))')))

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) scripts/compile_engine.py
	touch $(STAMP)

run: $(STAMP)
	$(PY) simulate.py $(OVERRIDES) $(ARGS)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n auto --dist worksteal  # idle workers take queued tests: long ones unevenly spread

test-slurm: $(STAMP)  # sweeps on a real SLURM (partition TRIALSIM_SLURM_PARTITION, default debug)
	$(PY) -m pytest -q -m slurm -n 2 tests/test_slurm.py

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) bench/benchmark.py

figures: $(STAMP)  # the gallery in docs/figures/ (a few minutes)
	$(PY) docs/gallery.py

validate: $(STAMP)  # every validation case at full size: docs/validation.md (about 6 minutes)
	$(PY) -m trialsim.validate --out docs/validation.md

docs: $(STAMP)  # the user guide as a static site in site/ (mkdocs; offline, no warnings)
	$(PY) -c "import mkdocs, material" 2>/dev/null || $(PY) -m pip install --quiet -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

doc-numbers: $(STAMP)  # the numbers README.md and docs/guide quote: docs/guide/numbers.json (minutes)
	$(PY) scripts/doc_numbers.py

clean:
	rm -rf $(VENV) outputs/* .pytest_cache site
