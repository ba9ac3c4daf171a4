"""Errors of the tool layer; their messages are written for the model, not for the user.

    ToolError          a tool call the server refuses or cannot carry out
    └── PatchError     an `apply_patch` input that does not parse or does not apply

A message says what went wrong and what to do instead ("file not found: src/a.py; use list_files
to see what exists"), because it goes back to the model as the tool's output so it can retry.
They are not part of the user-facing `ResponsesLspError` hierarchy: the tool loop turns them into
`function_call_output` / `custom_tool_call_output` items and never shows them as errors.
"""

from __future__ import annotations


class ToolError(Exception):
    """A tool call that cannot be carried out; `str(error)` is the message for the model."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class PatchError(ToolError):
    """A patch that is malformed (with the 1-based `line` of the patch text) or does not apply."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"patch line {line}: {message}" if line is not None else message)
        self.line = line
