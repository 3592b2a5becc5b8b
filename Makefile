# Every target creates .venv when it is missing and installs what it needs, so
# each works on a fresh clone: `make train`, `make test`, `make bench`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: test train bench bench-quick bench-peers bench-torch bench-quality clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setuptools boxes a notice about every editable install of a flat layout ("Editable installation ...
# folders with the same name"): not a problem here, so not shown.
PIP_INSTALL := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet

# Stamps: reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e '.[bench]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e '.[test]'
	touch $@

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

train: $(VENV)/.installed
	$(BIN)/nnfast train --epochs 30 --seed 1

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks

bench-quick: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks --quick

# The CPU builds of the peers nnfast is measured against, then the full suite. TORCH_SPEC is a
# release whose CPU wheel the configured package index serves; on PyPI the default Linux wheel is the
# CUDA build (several GB), so point pip at PyTorch's CPU index there:
#   make bench-peers TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu" TORCH_SPEC=torch
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
bench-peers: $(VENV)/.installed-bench
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet "jax[cpu]"
	$(BIN)/python -m benchmarks

bench-torch: bench-peers

# Learning quality: every installed engine, 5 seeds x 30 epochs per configuration (tens of minutes).
bench-quality: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks.quality

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
