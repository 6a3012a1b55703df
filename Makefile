# The two set-up commands in the README: `make demo` and `make test`. Both create .venv and install
# exactly torch==2.13.0 (a CPU build) before the package, so pip never pulls a CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow lint docs clean bench-external

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/simulacra demo

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

# `make test` is the suite a change must pass, within 10 minutes on 2 cores; the tests marked slow run
# at the scale they guard (a million rows, a whole bench or tune run) and run in `make test-slow`,
# which .ci/run calls after it. Both run on every core (pytest-xdist, one test file per worker, each
# worker pinned to its own cores by tests/conftest.py so that two torch thread pools never compete).
PYTEST = $(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile
# which tests `make test` runs: `make test MARKERS=` runs the slow ones too, in the same workers (.ci/run)
MARKERS ?= not slow

test: lint
	$(PYTEST) $(if $(MARKERS),-m "$(MARKERS)")

test-slow: install
	$(PYTEST) -m slow

# The documentation site (MkDocs with Material and mkdocstrings), built offline into site/; --strict
# turns a broken link or a docstring mkdocstrings cannot read into a failure. docs/hooks.py renders the
# benchmark tables from benchmarks/results and the CLI reference from the Typer application.
docs: install
	$(BIN)/mkdocs build --strict --quiet

# The external reference row of `simulacra bench`: mostlyai-engine's TabularARGN in an environment of
# its own, never the core's; the torchvision/torchaudio builds it pulls break the CPU torch, so they go.
bench-external:
	$(PYTHON) -m venv .venv-mostlyai
	.venv-mostlyai/bin/python -m pip install -q torch==2.13.0
	.venv-mostlyai/bin/python -m pip install -q mostlyai-engine==2.7.3
	.venv-mostlyai/bin/python -m pip uninstall -q -y torchvision torchaudio

clean:
	rm -rf $(VENV) .venv-mostlyai runs site .pytest_cache .ruff_cache
