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

.PHONY: demo test test-all lint docs install

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
