# One entry point per task. Every target creates the virtual environment first,
# so `make demo` and `make test` work on a fresh clone (Debian, Python 3.11).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast check lint typecheck unit e2e editors test-install test-emacs test-gateway test-vscode vsix bench clean

## The LiteLLM proxy for the gateway tier: its own virtualenv (it is large, and must not
## leak into the product's environment), git-ignored, installed once (stamp file).
LITELLM_VERSION ?= 1.108.7
LITELLM_VENV    := .cache/litellm-venv
LITELLM_STAMP   := $(LITELLM_VENV)/.installed-$(LITELLM_VERSION)

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
## client), the install story, Emacs + eglot (28 and 30), the gateway tier (the LiteLLM proxy),
## then VS Code itself (code-server in headless Chromium); the tiers install what they need.
test: test-fast test-install test-emacs test-gateway test-vscode

## Everything but the install, Emacs, gateway and VS Code tiers (a few minutes).
test-fast: check
	$(BIN)/pytest -q --ignore=tests/gateway

$(LITELLM_STAMP):
	rm -rf $(LITELLM_VENV)
	$(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/pip install --quiet --upgrade pip
	$(LITELLM_VENV)/bin/pip install --quiet 'litellm[proxy]==$(LITELLM_VERSION)'
	touch $(LITELLM_STAMP)

## responses-lsp behind the real LiteLLM proxy (127.0.0.1, a local model stand-in).
test-gateway: $(STAMP) $(LITELLM_STAMP)
	RESPONSES_LSP_GATEWAY_TIER=1 $(BIN)/pytest -q tests/gateway

## The README's install line on a fresh HOME, then --help, demo and Neovim (~1 min).
test-install: $(STAMP)
	RESPONSES_LSP_TEST_INSTALL=1 $(BIN)/pytest -q tests/install

## Emacs 28 (Debian 12, elpa-eglot 1.9) and Emacs 30 (backports, eglot 1.17) in a terminal
## under tmux, configured as the README says (tests/emacs/install.sh installs them: apt + .cache/).
test-emacs: $(STAMP)
	tests/emacs/install.sh
	RESPONSES_LSP_EMACS_TIER=1 $(BIN)/pytest -q tests/emacs

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
	rm -rf $(VENV) $(LITELLM_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
