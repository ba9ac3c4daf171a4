"""The tools offered to the model (Responses API `tools`), and running the function tools.

`TOOLS` holds three function tools, `read_file`, `search` and `list_files` (JSON arguments,
`strict` off, `additionalProperties: false`), and the custom freeform tool `apply_patch`, whose
input is a raw patch in the Codex format constrained by its Lark grammar. Gateways that carry
only function tools (llama-stack rejects `custom` with 400) get `apply_patch` as a function
with one string argument `input` (what Codex sends to models without freeform tools):
`tools_for("function")`. `ApplyPatchForms` remembers per base URL which form works; an
`apply_patch` the model sends as a `function_call` is accepted in either form
(`patch_from_arguments`). `run_tool` runs a
function tool call against a `WorkspaceFiles` and always returns the text for the model: errors
(bad JSON, unknown tool or argument, any `ToolError`) come back as a string beginning "error: ".
`apply_patch` is not run here: the tool loop parses it with `tools.patch` and turns it into a
`WorkspaceEdit`; `summarize_changes` is the tool output once it is applied.
`describe_tool_call` gives the progress line for a call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from responses_lsp.tools.errors import ToolError
from responses_lsp.tools.patch import FileChange
from responses_lsp.tools.workspace import WorkspaceFiles

APPLY_PATCH_GRAMMAR = r"""start: begin_patch hunk+ end_patch
begin_patch: "*** Begin Patch" LF
end_patch: "*** End Patch" LF?

hunk: add_hunk | delete_hunk | update_hunk
add_hunk: "*** Add File: " filename LF add_line+
delete_hunk: "*** Delete File: " filename LF
update_hunk: "*** Update File: " filename LF change_move? change?

filename: /(.+)/
add_line: "+" /(.*)/ LF -> line

change_move: "*** Move to: " filename LF
change: (change_context | change_line)+ eof_line?
change_context: ("@@" | "@@ " /(.+)/) LF
change_line: ("+" | "-" | " ") /(.*)/ LF
eof_line: "*** End of File" LF

%import common.LF
"""

APPLY_PATCH_DESCRIPTION = """\
Edit files in the workspace. This is a FREEFORM tool: send the patch text itself, not JSON.
Paths are relative to the workspace, as shown by list_files. A patch can add, update, delete
and move several files at once; it is shown to the user, who confirms it.

*** Begin Patch
*** Update File: src/app.py
@@ def load(path):
-    data = read(path)
+    data = await read(path)
     return data
*** Add File: src/new_module.py
+print("every line of a new file starts with +")
*** Delete File: src/old.py
*** Update File: src/a.py
*** Move to: src/b.py
@@
-x = 1
+x = 2
*** End Patch

In an update, each hunk starts with "@@", optionally followed by a line of the file (a def or
class line) that comes before the change, to place the hunk. Then come hunk lines: " " (a
space) + an unchanged context line, "-" + a line to remove, "+" + a line to add. Give about 3
lines of context before and after each change, copied exactly from the file (read it first), so
the hunk matches one place only. No line numbers. Put all changes to one file in one
"*** Update File" section, in file order. "*** End of File" after a hunk's last line pins it to
the end of the file. If the patch is rejected, the error says why; fix it and send it again.
"""


def _function(
    name: str, description: str, properties: dict[str, Any], *required: str
) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": description,
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": list(required),
            "additionalProperties": False,
        },
    }


APPLY_PATCH_FUNCTION_DESCRIPTION = APPLY_PATCH_DESCRIPTION.replace(
    "This is a FREEFORM tool: send the patch text itself, not JSON.",
    "Put the whole patch, as text, in the string argument `input`.",
)

APPLY_PATCH_CUSTOM: dict[str, Any] = {
    "type": "custom",
    "name": "apply_patch",
    "description": APPLY_PATCH_DESCRIPTION,
    "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_GRAMMAR},
}

TOOLS: list[dict[str, Any]] = [
    _function(
        "read_file",
        "Read a text file of the workspace. The output starts with 'path (lines a-b of n)', "
        "then each line prefixed with its number ('  12| code'; the prefix is not part of "
        "the file). Long files are cut: read further with start_line/end_line.",
        {
            "path": {"type": "string", "description": "Workspace-relative path, e.g. src/app.py"},
            "start_line": {"type": "integer", "minimum": 1, "description": "First line (1-based)"},
            "end_line": {"type": "integer", "minimum": 1, "description": "Last line, inclusive"},
        },
        "path",
    ),
    _function(
        "search",
        "Search the workspace's text files (respecting .gitignore) line by line. Returns "
        "'path:line: text' for each matching line, capped. Case-sensitive.",
        {
            "pattern": {"type": "string", "description": "Text to find (a regex if regex=true)"},
            "regex": {
                "type": "boolean",
                "description": "Treat pattern as a regular expression, RE2 syntax: no "
                "backreferences or lookaround (default false)",
            },
            "path_glob": {
                "type": "string",
                "description": "Only files matching this glob: '*.py' (any folder), 'src/**/*.py'",
            },
        },
        "pattern",
    ),
    _function(
        "list_files",
        "List the workspace's files (respecting .gitignore), sorted, capped.",
        {
            "glob": {
                "type": "string",
                "description": "Glob over workspace paths (default '**/*'): 'src/**/*.py', "
                "'*.toml' (any folder), or a folder name to list it",
            },
        },
    ),
    APPLY_PATCH_CUSTOM,
]

APPLY_PATCH_FUNCTION: dict[str, Any] = {
    "type": "function",
    "name": "apply_patch",
    "description": APPLY_PATCH_FUNCTION_DESCRIPTION,
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "input": {
                "type": "string",
                "description": "The entire contents of the apply_patch command",
            }
        },
        "required": ["input"],
        "additionalProperties": False,
    },
}


def tools_for(form: str) -> list[dict[str, Any]]:
    """The tools with `apply_patch` as a freeform custom tool or as a function tool."""
    if form == "function":
        return [*TOOLS[:-1], APPLY_PATCH_FUNCTION]
    return list(TOOLS)


_CUSTOM_REJECTED = re.compile(r"custom|tools\[\d+\]|tool type|freeform", re.IGNORECASE)


def rejects_custom_tools(error: Exception) -> bool:
    """Whether a 400/422 says the endpoint does not take the freeform tool."""
    status = getattr(error, "status_code", None)
    message = getattr(error, "message", "")
    return status in (400, 422) and bool(_CUSTOM_REJECTED.search(str(message)))


class ApplyPatchForms:
    """Which apply_patch form works, per base URL (auto mode); a setting may force one."""

    def __init__(self) -> None:
        self._function: set[str] = set()

    def form_for(self, base_url: str, setting: str) -> str:
        if setting in ("custom", "function"):
            return setting
        return "function" if base_url in self._function else "custom"

    def custom_rejected(self, base_url: str) -> None:
        self._function.add(base_url)


APPLY_PATCH_FORMS = ApplyPatchForms()
"""The server-wide memory of `ApplyPatchForms` (one process talks to a few base URLs)."""


def patch_from_arguments(arguments: str) -> str:
    """The patch of an `apply_patch` function call: `{"input": patch}` (Codex), also
    `patch`/`content` (gateways' renderings of the freeform tool), or the raw patch."""
    text = arguments.strip()
    if text.startswith("*** Begin Patch"):
        return arguments
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError as exc:
        raise ToolError(f"the arguments of apply_patch are not valid JSON ({exc})") from None
    if isinstance(value, dict):
        for key in ("input", "patch", "content"):
            if isinstance(value.get(key), str):
                return str(value[key])
    raise ToolError('apply_patch takes {"input": "<the patch>"}')


_ARGUMENTS = {
    "read_file": ("path", "start_line", "end_line"),
    "search": ("pattern", "regex", "path_glob"),
    "list_files": ("glob",),
}


def _parse(name: str, arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        raise ToolError(f"the arguments of {name} are not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ToolError(f"the arguments of {name} must be a JSON object")
    allowed = _ARGUMENTS[name]
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ToolError(
            f"unknown argument {unknown[0]!r} for {name}; it takes {', '.join(allowed)}"
        )
    return value


def _string(args: dict[str, Any], key: str) -> str | None:
    value = args.get(key)
    if value is not None and not isinstance(value, str):
        raise ToolError(f"{key} must be a string")
    return value


def _required(args: dict[str, Any], key: str, tool: str) -> str:
    value = _string(args, key)
    if value is None:
        raise ToolError(f"{tool} needs the argument {key!r}")
    return value


def _integer(args: dict[str, Any], key: str) -> int | None:
    value = args.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolError(f"{key} must be an integer")
    return value


def _read_file(files: WorkspaceFiles, args: dict[str, Any]) -> str:
    path = _required(args, "path", "read_file")
    return files.read_file(path, _integer(args, "start_line"), _integer(args, "end_line"))


def _search(files: WorkspaceFiles, args: dict[str, Any]) -> str:
    pattern = _required(args, "pattern", "search")
    regex = args.get("regex", False)
    if not isinstance(regex, bool):
        raise ToolError("regex must be true or false")
    return files.search(pattern, regex=regex, path_glob=_string(args, "path_glob"))


def _list_files(files: WorkspaceFiles, args: dict[str, Any]) -> str:
    return files.list_files(_string(args, "glob") or "**/*")


_RUNNERS: dict[str, Callable[[WorkspaceFiles, dict[str, Any]], str]] = {
    "read_file": _read_file,
    "search": _search,
    "list_files": _list_files,
}


def run_tool(files: WorkspaceFiles, name: str, arguments: str) -> str:
    """The output of function tool `name` called with JSON `arguments`; never raises."""
    runner = _RUNNERS.get(name)
    if runner is None:
        return f"error: unknown tool {name!r}; the tools are {', '.join(_RUNNERS)}, apply_patch"
    try:
        return runner(files, _parse(name, arguments))
    except ToolError as exc:
        return f"error: {exc}"
    except Exception as exc:  # a bug or an OS error must not end the tool loop
        return f"error: {name} failed unexpectedly: {type(exc).__name__}: {exc}"


def describe_tool_call(name: str, arguments: str) -> str:
    """A short progress line for a tool call ("reading src/api.py", "searching for 'f('")."""
    try:
        args = json.loads(arguments) if name != "apply_patch" and arguments.strip() else {}
    except json.JSONDecodeError:
        args = {}
    args = args if isinstance(args, dict) else {}
    if name == "read_file":
        start, end = args.get("start_line"), args.get("end_line")
        lines = f" (lines {start or 1}-{end or 'end'})" if start or end else ""
        return f"reading {args.get('path', 'a file')}{lines}"
    if name == "search":
        return f"searching for {args.get('pattern', '')!r}"
    if name == "list_files":
        return f"listing files {args.get('glob') or ''}".rstrip()
    if name == "apply_patch":
        return "preparing the edit"
    return f"running {name}"


def summarize_changes(changes: Sequence[FileChange]) -> str:
    """The `apply_patch` output (`custom_tool_call_output`) once changes are applied."""
    marks = {"add": "A", "update": "M", "delete": "D"}
    rows = [
        f"{marks[c.kind]} {c.path}" + (f" -> {c.new_path}" if c.new_path else "") for c in changes
    ]
    return "Success. Updated the following files:\n" + "\n".join(rows)
