"""`python -m responses_lsp` runs the command line (the language server on stdio by default)."""

from responses_lsp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
