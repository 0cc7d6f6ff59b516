# Quick start: `make run` (simulate the default scenario) and `make test`.
# Needs only Python 3.11+ and make; everything else goes into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-slurm lint bench figures validate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) simulate.py $(ARGS)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n auto

test-slurm: $(STAMP)  # sweeps on a real SLURM (partition TRIALSIM_SLURM_PARTITION, default debug)
	$(PY) -m pytest -q -m slurm -n 2 tests/test_slurm.py

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) bench/benchmark.py

figures: $(STAMP)  # the gallery in docs/figures/ (a few minutes)
	$(PY) docs/gallery.py

validate: $(STAMP)  # every validation case at full size: docs/validation.md (about 15 minutes)
	$(PY) -m trialsim.validate --out docs/validation.md

clean:
	rm -rf $(VENV) outputs/* .pytest_cache
