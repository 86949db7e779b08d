# Two entry points that do all set-up on a fresh machine:
#   make demo   - create .venv, install, run a real sweep on the embedded corpus
#   make test   - create .venv, install, lint, build the docs and run the test suite
# TORCH_SPEC picks the torch build installed first; on a machine without a GPU point
# TORCH_INDEX at a CPU-only wheel index so pip does not pull a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.sweeper-installed

.PHONY: demo test test-all lint docs install gpu-kit gpu-rehearsal

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sweeper run studies/quick.py --trials 20

# the import contracts and the type checker: both configured in pyproject.toml
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy

# the docs/ pages; --strict makes a dead link or #anchor (mkdocs.yml's validation) a failure.
# Quiet by keeping the output for a failure: mkdocs --quiet drops the warnings before --strict
# counts them, and passes a broken link (mkdocs/mkdocs#4126).
docs: $(STAMP)
	@out=$$($(BIN)/mkdocs build --strict --site-dir build/site 2>&1) || { echo "$$out"; exit 1; }

# --dist loadfile: a file's tests share one worker, so a module fixture (one sweep) runs once
test: lint docs
	$(BIN)/pytest -n 2 --dist loadfile -m "not heavy"

# the heavy fault tests too (about 10 more minutes on 2 cores)
test-all: lint docs
	$(BIN)/pytest -n 2 --dist loadfile

# The lent GPU machine (docs/gpu.md). GPU_PYTHON is its Python version: `make gpu-kit` downloads
# for it the wheels sweeper needs there that it lacks (gpu-kit/, git-ignored), and checks that
# they fit beside the working tree. `make gpu-rehearsal` runs benchmarks/gpu_device.sh in CPU
# mode in a fresh venv of that Python version holding only packages that machine has (its
# torch, 2.11.0: a CUDA build, which runs on the CPU here), with the kit installed as there.
# Where no Python 3.12 is at hand: make gpu-kit gpu-rehearsal GPU_PYTHON=3.11.
GPU_PYTHON ?= 3.12
REHEARSAL_PYTHON ?= $(firstword $(foreach p,python$(GPU_PYTHON) \
    $(wildcard $(HOME)/.pyenv/versions/$(GPU_PYTHON).*/bin/python$(GPU_PYTHON)),\
    $(shell $(p) -c '' >/dev/null 2>&1 && echo $(p))))
REHEARSAL_TORCH ?= torch==2.11.0
REHEARSAL_VENV ?= .gpu-rehearsal-venv

gpu-kit:
	$(PYTHON) benchmarks/gpu_kit.py --python-version $(GPU_PYTHON)

gpu-rehearsal:
	@test -n "$(REHEARSAL_PYTHON)" || { echo "no Python $(GPU_PYTHON) here: name one with \
		REHEARSAL_PYTHON=..., or rehearse on another (make gpu-kit gpu-rehearsal GPU_PYTHON=3.11)"; \
		exit 1; }
	@test -f gpu-kit/machine.txt || { echo "no gpu-kit/: make gpu-kit first"; exit 1; }
	rm -rf $(REHEARSAL_VENV)
	$(REHEARSAL_PYTHON) -m venv $(REHEARSAL_VENV)
	$(REHEARSAL_VENV)/bin/python -m pip install --quiet "$(REHEARSAL_TORCH)" pytest pytest-xdist
	$(REHEARSAL_VENV)/bin/python -m pip install --quiet --no-deps -r gpu-kit/machine.txt
	$(REHEARSAL_VENV)/bin/python benchmarks/gpu_kit.py --check-environment
	GPU_MODE=cpu PYTHON=$(REHEARSAL_VENV)/bin/python OUT=gpu-out bash benchmarks/gpu_device.sh
