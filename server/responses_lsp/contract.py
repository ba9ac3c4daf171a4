"""The names the server shares with the editor code: one place, pinned by a contract test.

The bundled VS Code extension (`editors/vscode/src`), the Neovim module (`editors/nvim/lua`),
the editor recipes in `docs/editors.md` and the README spell these strings too; the test
`tests/unit/test_editor_contract.py` reads those sources and fails when a string changes on
one side only. Standard library only (the language server imports it at startup).
"""

from __future__ import annotations

# ---- workspace/executeCommand: the commands the server registers and advertises

RUN = "responses-lsp.run"
"""Run an action: `{"action", "uri", "range", "instruction"?, "diagnostics"?}`; answers at once."""
CANCEL = "responses-lsp.cancel"
"""Cancel running jobs: `{"jobId"?, "uri"?}` (no argument: every job)."""
JOBS = "responses-lsp.jobs"
"""The running jobs."""
JOB_RESULT = "responses-lsp.jobResult"
"""How a job ended, for clients without `clientFeatures.jobDone`: `{"jobId"}`."""
REVERT = "responses-lsp.revert"
"""Revert a finished AI edit: `{"uri", "jobId"}`; offered as the code action "Revert AI edit"
while the job's text is untouched; answers at once, the original comes back in one edit."""
SESSION_SHOW = "responses-lsp.session.show"
SESSION_RESET = "responses-lsp.session.reset"
SESSION_COMPACT = "responses-lsp.session.compact"
COMMANDS = (RUN, CANCEL, JOBS, JOB_RESULT, REVERT, SESSION_SHOW, SESSION_RESET, SESSION_COMPACT)

# ---- the end of a job

JOB_DONE = "responsesLsp/jobDone"
"""Server -> client notification at the end of every started job (`clientFeatures.jobDone`)."""
CLIENT_FEATURES = "clientFeatures"
"""The `initializationOptions` key under which a client says what it handles."""
FEATURE_JOB_DONE = "jobDone"
"""`clientFeatures.jobDone: true`: the client wants `JOB_DONE` notifications."""

# ---- what the one-undo-step code matches

PROGRESS_TOKEN_PREFIX = "responses-lsp/job/"
"""A job's work-done progress token is this prefix and the job id (the VS Code jobs view
recognises and cancels jobs by it)."""
EDIT_LABEL_PREFIX = "responses-lsp job "
"""Every `workspace/applyEdit` of a job is labelled `responses-lsp job <id>: <intent>`; the
VS Code extension and the Neovim module group a job's edits into one undo step by it."""


REVERT_TITLE = "Revert AI edit"
"""The title of the code action that offers `REVERT`."""


def revert_label(job_id: int) -> str:
    """The `workspace/applyEdit` label of a revert: not a job edit label, so the one-undo code
    leaves it to the editor (the revert is its own undo step)."""
    return f"responses-lsp: revert AI edit of job {job_id}"


def progress_token(job_id: int) -> str:
    """The work-done progress token of job `job_id`."""
    return f"{PROGRESS_TOKEN_PREFIX}{job_id}"


def edit_label(job_id: int, intent: str) -> str:
    """The `workspace/applyEdit` label of an edit of job `job_id` (`intent`: insert, …)."""
    return f"{EDIT_LABEL_PREFIX}{job_id}: {intent}"
