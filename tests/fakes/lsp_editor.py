"""The e2e tests' editor is the one shipped to users: `responses_lsp.testing.editor`."""

from responses_lsp.testing.editor import DEBOUNCE, JOB_DONE, PROFILES, FakeEditor, OpenDoc

__all__ = ["DEBOUNCE", "JOB_DONE", "PROFILES", "FakeEditor", "OpenDoc"]
