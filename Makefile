# One entry point per task. Every target creates the virtual environment first,
# so `make demo` and `make test` work on a fresh clone (Debian, Python 3.11).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast check lint typecheck unit e2e editors test-install test-vscode vsix bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## The main job on the embedded default: a scripted refactor streamed live.
demo: $(STAMP)
	$(BIN)/responses-lsp demo

## The whole test suite: lint, strict types, unit + e2e + real editors (Neovim, a Node
## client), then VS Code itself (code-server in headless Chromium; installs what it needs).
test: test-fast test-install test-vscode

## Everything but the VS Code tier (a few minutes).
test-fast: check
	$(BIN)/pytest -q

## The README's install line on a fresh HOME, then --help, demo and Neovim (~1 min).
test-install: $(STAMP)
	RESPONSES_LSP_TEST_INSTALL=1 $(BIN)/pytest -q tests/install

test-vscode: $(STAMP)
	RESPONSES_LSP_PYTHON=$(abspath $(BIN)/python) tests/vscode/run.sh

## The VS Code extension with the server's wheel inside: editors/vscode/responses-lsp.vsix
## (needs Node.js 18+ and npm).
vsix: $(STAMP)
	rm -rf editors/vscode/bundled
	$(BIN)/pip wheel --quiet --no-deps -w editors/vscode/bundled .
	cd editors/vscode && { [ -d node_modules ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] || \
		npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent package

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
