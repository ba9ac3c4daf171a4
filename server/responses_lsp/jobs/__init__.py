"""Jobs: a code action run end to end, one lifecycle whatever its kind.

The data flow, top to bottom:

* `arguments` — the command's arguments, structured by pygls' converter;
* `manager` — `JobManager.start` makes them a `JobRequest`, checks it (`checks`), claims the
  region in the edit engine, and answers at once; then `_drive` runs the job: progress begun,
  the body's work as the job's task, the body's `settle`, and one outcome path (progress end,
  message, result);
* `runtime` — the edit driver, settings, the API client, sessions and the manager: the far
  side of the server's one lazy import.
* `request` — the one place a prompt becomes a request, and the session's history (compacted
  when due) its input;
* the bodies — `single` (one region, streamed through the sanitizer into the edit engine),
  `multi_file` (the `tool_loop` over the workspace tools, then one confirmed `WorkspaceEdit`),
  `compaction` (a session compacted on request);
* `syntax` + `syntax_check` — a single-file answer parsed in place against the document before
  it, and the one repair turn (`single`) when it brought in syntax errors;
* `landed` + `revert` — finished edits followed through later changes, and "Revert AI edit"
  while one still holds exactly what its job wrote;
* `types` — the shapes shared by all of them: `JobHost` (all a job knows of the server), `Job`,
  `JobRequest`, `JobResult`, `JobBody`, `Progress`;

Nothing is imported here: `language_server` imports `arguments` at startup (it is light: attrs
classes) and the rest through `runtime`.
"""
