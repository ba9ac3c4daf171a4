"""Tools the model may call during a multi-file action, confined to the workspace folders.

* `workspace` — `WorkspaceFiles`: path checks (roots, symlinks, secrets, `.git`), `read_file`,
  `search` and `list_files`, with `.gitignore` rules and size caps;
* `patch` — the Codex `apply_patch` format: `parse_patch` and the pure `apply_patch`, which turns
  a patch and the current file texts into `FileChange`s;
* `definitions` — the tool definitions sent to the Responses API and `run_tool`, which runs a
  function tool call and always answers with a string for the model;
* `errors` — `ToolError` (and `PatchError`): messages written for the model, so it can retry;
* `budget` — the bounds of one tool call (time, entries, bytes) and running it off the loop;
* `reading` — reading a file without ever blocking (regular files only, bounded);
* `ignore` — globs and `.gitignore` rules (pathspec on RE2) and the bounded walk.

Pure and bounded: nothing here knows about LSP, the API client or sessions. `changes` turns
the accepted patches into one `WorkspaceEdit`; the tool loop that asks the model and runs
these tools is the jobs package's (`jobs/tool_loop.py`).
"""
