# One entry point per task. Every target creates the virtual environment first,
# so `make demo` and `make test` work on a fresh clone (Debian, Python 3.11).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast check lint typecheck unit e2e editors test-emacs test-vscode bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,editors]'
	touch $(STAMP)

venv: $(STAMP)

## The main job on the embedded default: a scripted refactor streamed live.
demo: $(STAMP)
	$(BIN)/responses-lsp demo

## The whole test suite: lint, strict types, unit + e2e + real editors (Neovim, a Node
## client), then Emacs + eglot (28 and 30) and VS Code itself (code-server in headless Chromium);
## the last two install what they need.
test: test-fast test-emacs test-vscode

## Everything but the VS Code tier (a few minutes).
test-fast: check
	$(BIN)/pytest -q

## Emacs 28 (Debian 12, elpa-eglot 1.9) and Emacs 30 (backports, eglot 1.17) in a terminal
## under tmux, configured as the README says (tests/emacs/install.sh installs them: apt + .cache/).
test-emacs: $(STAMP)
	tests/emacs/install.sh
	RESPONSES_LSP_EMACS_TIER=1 $(BIN)/pytest -q tests/emacs

test-vscode: $(STAMP)
	RESPONSES_LSP_PYTHON=$(abspath $(BIN)/python) tests/vscode/run.sh

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check server tests bench
	$(BIN)/ruff format --check server tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

e2e: $(STAMP)
	$(BIN)/pytest -q tests/e2e

editors: $(STAMP)
	$(BIN)/pytest -q tests/editors

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
