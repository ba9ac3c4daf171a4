"""Jobs: a code action run end to end, one lifecycle whatever its kind.

The data flow, top to bottom:

* `arguments` — the command's arguments, structured by pygls' converter, become a `JobRequest`;
* `manager` — `JobManager.start` checks the request (`checks`), claims the region in the edit
  engine, and answers at once; then `_drive` runs the job: progress begun, the body's work as
  the job's task, the body's `settle`, and one outcome path (progress end, message, result);
* `request` — the one place a prompt becomes a request, and the session's history (compacted
  when due) its input;
* the bodies — `single` (one region, streamed through the sanitizer into the edit engine),
  `multi_file` (the `tool_loop` over the workspace tools, then one confirmed `WorkspaceEdit`),
  `compaction` (a session compacted on request);
* `types` — the shapes shared by all of them: `JobHost` (all a job knows of the server), `Job`,
  `JobRequest`, `JobResult`, `JobBody`, `Progress`;
* `runtime` — settings, the API client, sessions and the manager: the far side of the
  server's one lazy import.

Nothing is imported here: `language_server` imports `arguments` and `types` at startup (they
are light) and the rest through `runtime`.
"""
