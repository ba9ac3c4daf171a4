// A third-party LSP client for responses-lsp: vscode-languageserver-protocol (+ vscode-jsonrpc)
// over the server's stdio, with no code from this project. It behaves like a strict editor:
// utf-16 columns (JavaScript strings are utf-16), every `workspace/applyEdit` checked before it
// is applied (stale document version, overlapping edits, a position inside a surrogate pair or
// past the document are refused with `applied: false`), and an incremental `didChange` sent for
// each applied edit before the answer, as VS Code does.
//
// Jobs do not hold the command open: `responses-lsp.run` answers at once with the job id (checked
// to come back within QUICK_MS) and the result comes as the `responsesLsp/jobDone` notification,
// which this client asks for with `initializationOptions.clientFeatures.jobDone`; the same result
// is then read back with `responses-lsp.jobResult`.
//
// Paths checked: initialize capabilities, the code-action list, `refactor-to-async` streamed to
// the exact expected text, cancel mid-stream through `window/workDoneProgress/cancel` (the
// original comes back), and the user typing above the region while it streams (edits computed
// against an older version are refused; the server must repair and still land the result).
//
// usage: RLSP_SERVER='["python","-m","responses_lsp"]' RLSP_CASE=case.json node client.js
// The server inherits this process's environment (OPENAI_BASE_URL, OPENAI_API_KEY, ...).
// Prints PASS and exits 0, or prints what failed and exits 1 (2: crashed or timed out).
'use strict';

const { spawn } = require('child_process');
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const lsp = require('vscode-languageserver-protocol/node');

const RUN = 'responses-lsp.run';
const CANCEL = 'responses-lsp.cancel';
const JOB_RESULT = 'responses-lsp.jobResult';
const JOB_DONE = 'responsesLsp/jobDone';
const QUICK_MS = 500;
const LIMIT_MS = Number(process.env.RLSP_LIMIT_MS || 40000);
const LABEL = /^responses-lsp job (\d+): (insert|delete-original|delete-new|retract|revert)$/;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const t0 = Date.now();
const log = (...args) => console.log(`[${((Date.now() - t0) / 1000).toFixed(2)}s]`, ...args);

async function waitFor(what, predicate, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

// ------------------------------------------------------------------ the editor's document

class RejectedEdit extends Error {}

/** A text document with utf-16 positions (the native unit of JavaScript strings). */
class Document {
  constructor(uri, languageId, text) {
    this.uri = uri;
    this.languageId = languageId;
    this.version = 1;
    this.text = text;
  }

  lineStarts() {
    const starts = [0];
    const text = this.text;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 13 /* \r */) {
        if (text.charCodeAt(i + 1) === 10) i++;
        starts.push(i + 1);
      } else if (c === 10 /* \n */) {
        starts.push(i + 1);
      }
    }
    return starts;
  }

  /** Offset of an LSP position; refuses positions a strict editor would not accept. */
  offsetAt(position, starts = this.lineStarts()) {
    const { line, character } = position;
    if (!Number.isInteger(line) || !Number.isInteger(character) || line < 0 || character < 0) {
      throw new RejectedEdit(`invalid position ${JSON.stringify(position)}`);
    }
    if (line >= starts.length) {
      throw new RejectedEdit(`line ${line} is past the end (${starts.length} lines)`);
    }
    const start = starts[line];
    let end = line + 1 < starts.length ? starts[line + 1] : this.text.length;
    while (end > start && (this.text[end - 1] === '\n' || this.text[end - 1] === '\r')) end--;
    if (start + character > end) {
      // LSP: a character past the line length means the line length. Allowed, but noted.
      stats.clampedPositions++;
      return end;
    }
    const offset = start + character;
    const before = this.text.charCodeAt(offset - 1);
    if (offset > start && before >= 0xd800 && before <= 0xdbff) {
      throw new RejectedEdit(`position ${JSON.stringify(position)} splits a surrogate pair`);
    }
    return offset;
  }

  positionAt(offset) {
    const starts = this.lineStarts();
    let line = 0;
    while (line + 1 < starts.length && starts[line + 1] <= offset) line++;
    return { line, character: offset - starts[line] };
  }

  /**
   * Apply TextEdits (all relative to the current text, non-overlapping, as LSP requires).
   * Returns the incremental content changes to report, in an order that is valid sequentially.
   */
  apply(edits) {
    const starts = this.lineStarts();
    const spans = edits.map((edit, index) => ({
      start: this.offsetAt(edit.range.start, starts),
      end: this.offsetAt(edit.range.end, starts),
      text: edit.newText,
      index,
    }));
    for (const s of spans) {
      if (s.end < s.start) throw new RejectedEdit('range end before start');
    }
    spans.sort((a, b) => a.start - b.start || a.index - b.index);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i].start < spans[i - 1].end) throw new RejectedEdit('overlapping edits');
    }
    const changes = [];
    for (const s of [...spans].reverse()) {
      changes.push({
        range: { start: this.positionAt(s.start), end: this.positionAt(s.end) },
        text: s.text,
      });
      this.text = this.text.slice(0, s.start) + s.text + this.text.slice(s.end);
    }
    this.version++;
    return changes;
  }
}

// ------------------------------------------------------------------ the session

const stats = { applied: 0, rejected: 0, clampedPositions: 0, rejections: [] };
const labels = [];
const progress = []; // { token, kind, title, message, cancellable }
const createdTokens = new Set();
const messages = [];
const jobsDone = new Map(); // jobId -> result, from responsesLsp/jobDone
const answerTimes = []; // ms until each responses-lsp.run was answered
let doc;
let conn;

function textEditsOf(workspaceEdit) {
  const found = [];
  for (const change of workspaceEdit.documentChanges || []) {
    if (!change.textDocument) throw new RejectedEdit(`unexpected resource operation ${change.kind}`);
    found.push({ uri: change.textDocument.uri, version: change.textDocument.version, edits: change.edits });
  }
  for (const [uri, edits] of Object.entries(workspaceEdit.changes || {})) {
    found.push({ uri, version: null, edits });
  }
  return found;
}

async function onApplyEdit(params) {
  labels.push(params.label);
  try {
    const parts = textEditsOf(params.edit);
    for (const part of parts) {
      if (part.uri !== doc.uri) throw new RejectedEdit(`edit for a document that is not open: ${part.uri}`);
      if (part.version !== null && part.version !== undefined && part.version !== doc.version) {
        throw new RejectedEdit(`stale version ${part.version} (document is at ${doc.version})`);
      }
    }
    for (const part of parts) {
      const contentChanges = doc.apply(part.edits);
      await conn.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
        textDocument: { uri: doc.uri, version: doc.version },
        contentChanges,
      });
    }
    stats.applied++;
    return { applied: true };
  } catch (error) {
    if (!(error instanceof RejectedEdit)) throw error;
    stats.rejected++;
    stats.rejections.push(`${params.label}: ${error.message}`);
    return { applied: false, failureReason: error.message };
  }
}

/** The user types: an incremental change made by the editor itself. */
async function userTypes(position, text) {
  const offset = doc.offsetAt(position);
  doc.text = doc.text.slice(0, offset) + text + doc.text.slice(offset);
  doc.version++;
  await conn.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
    textDocument: { uri: doc.uri, version: doc.version },
    contentChanges: [{ range: { start: position, end: position }, text }],
  });
}

/** The range of `text` in the document (or of its first `length` code units). */
function rangeOf(text, length = text.length) {
  const at = doc.text.indexOf(text);
  assert.ok(at >= 0, `text not found: ${text}`);
  return { start: doc.positionAt(at), end: doc.positionAt(at + length) };
}

async function codeActions(range) {
  return conn.sendRequest(lsp.CodeActionRequest.type, {
    textDocument: { uri: doc.uri },
    range,
    context: { diagnostics: [], triggerKind: lsp.CodeActionTriggerKind.Invoked },
  });
}

async function pick(range, action) {
  const actions = await codeActions(range);
  const chosen = actions.find((a) => a.command && a.command.arguments[0].action === action);
  assert.ok(chosen, `action ${action} offered`);
  return chosen.command;
}

/** Runs a job: the command answers at once ("started"), the result comes as jobDone. */
async function execute(command) {
  const sent = Date.now();
  const answer = await conn.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: command.command,
    arguments: command.arguments,
  });
  answerTimes.push(Date.now() - sent);
  assert.ok(Date.now() - sent < QUICK_MS, `${command.command} answered in ${Date.now() - sent} ms`);
  if (answer.outcome !== 'started') return answer; // refused: the answer is the result
  assert.strictEqual(answer.token, `responses-lsp/job/${answer.jobId}`);
  await waitFor(`the end of job ${answer.jobId}`, () => jobsDone.has(answer.jobId), LIMIT_MS);
  const result = jobsDone.get(answer.jobId);
  const status = await conn.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: JOB_RESULT,
    arguments: [{ jobId: answer.jobId }],
  });
  assert.strictEqual(status.state, 'done');
  assert.deepStrictEqual(status.result, result);
  return result;
}

function progressOf(token) {
  return progress.filter((p) => p.token === token);
}

function lastJobToken() {
  const begins = progress.filter((p) => p.kind === 'begin');
  return begins.length ? begins[begins.length - 1].token : undefined;
}

// ------------------------------------------------------------------ main

async function main() {
  const serverCommand = JSON.parse(process.env.RLSP_SERVER || '["responses-lsp"]');
  const kase = JSON.parse(fs.readFileSync(process.env.RLSP_CASE, 'utf8'));
  const root = kase.root;
  const file = path.join(root, kase.file);
  const uri = 'file://' + file.split(path.sep).map(encodeURIComponent).join('/');

  const proc = spawn(serverCommand[0], serverCommand.slice(1), {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const timer = setTimeout(() => {
    console.error(`FAIL: timed out after ${LIMIT_MS} ms`);
    proc.kill('SIGKILL');
    process.exit(2);
  }, LIMIT_MS);

  conn = lsp.createProtocolConnection(
    new lsp.StreamMessageReader(proc.stdout),
    new lsp.StreamMessageWriter(proc.stdin),
  );
  conn.onRequest(lsp.ApplyWorkspaceEditRequest.type, onApplyEdit);
  conn.onRequest(lsp.WorkDoneProgressCreateRequest.type, (params) => {
    createdTokens.add(params.token);
    return null;
  });
  conn.onRequest(lsp.ConfigurationRequest.type, (params) => params.items.map(() => null));
  conn.onRequest(lsp.RegistrationRequest.type, () => null);
  conn.onNotification('$/progress', (params) => {
    progress.push({ token: params.token, ...params.value });
  });
  conn.onNotification(lsp.ShowMessageNotification.type, (params) => messages.push(params.message));
  conn.onNotification(lsp.LogMessageNotification.type, () => {});
  conn.onNotification(JOB_DONE, (params) => jobsDone.set(params.jobId, params));
  conn.listen();

  // ---- initialize: what the server says it handles
  const init = await conn.sendRequest(lsp.InitializeRequest.type, {
    processId: process.pid,
    clientInfo: { name: 'responses-lsp-node-test', version: '0' },
    rootUri: 'file://' + root,
    workspaceFolders: [{ uri: 'file://' + root, name: 'ws' }],
    initializationOptions: { responsesLsp: { maxRetries: 1 }, clientFeatures: { jobDone: true } },
    capabilities: {
      general: { positionEncodings: ['utf-16'] },
      window: { workDoneProgress: true, showMessage: {} },
      workspace: {
        applyEdit: true,
        configuration: true,
        workspaceEdit: { documentChanges: true, failureHandling: 'abort' },
        executeCommand: { dynamicRegistration: false },
      },
      textDocument: {
        synchronization: { dynamicRegistration: false, didSave: false },
        codeAction: {
          codeActionLiteralSupport: {
            codeActionKind: { valueSet: ['', 'quickfix', 'refactor', 'refactor.rewrite'] },
          },
          isPreferredSupport: true,
          disabledSupport: true,
          dataSupport: true,
        },
      },
    },
  });
  const caps = init.capabilities;
  assert.strictEqual(init.serverInfo.name, 'responses-lsp');
  assert.ok([undefined, 'utf-16'].includes(caps.positionEncoding), `encoding ${caps.positionEncoding}`);
  const sync = typeof caps.textDocumentSync === 'object' ? caps.textDocumentSync.change : caps.textDocumentSync;
  assert.strictEqual(sync, lsp.TextDocumentSyncKind.Incremental);
  assert.deepStrictEqual(caps.codeActionProvider.codeActionKinds, ['refactor.rewrite', 'quickfix']);
  for (const command of [RUN, CANCEL, JOB_RESULT]) {
    assert.ok(caps.executeCommandProvider.commands.includes(command), `command ${command} advertised`);
  }
  await conn.sendNotification(lsp.InitializedNotification.type, {});

  doc = new Document(uri, 'python', kase.source);
  await conn.sendNotification(lsp.DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: doc.languageId, version: doc.version, text: doc.text },
  });

  // ---- 1. the code-action list, then refactor-to-async streamed to the exact result
  const happy = kase.happy;
  const selection = rangeOf(happy.selection);
  const actions = await codeActions(selection);
  assert.deepStrictEqual(actions.map((a) => a.title), kase.titles);
  for (const a of actions) {
    assert.strictEqual(a.command.command, RUN);
    assert.strictEqual(a.command.arguments.length, 1);
    const args = a.command.arguments[0];
    assert.strictEqual(args.uri, uri);
    assert.deepStrictEqual(args.range, selection);
  }
  const appliedBefore = stats.applied;
  const happyResult = await execute(actions.find((a) => a.command.arguments[0].action === 'refactor-to-async').command);
  log('refactor-to-async:', JSON.stringify(happyResult));
  assert.strictEqual(happyResult.outcome, 'applied');
  assert.strictEqual(doc.text, happy.expected);
  const streamed = stats.applied - appliedBefore;
  assert.ok(streamed > 3, `streamed in several edits (${streamed})`);
  assert.strictEqual(stats.rejected, 0, `no edit refused on the happy path: ${stats.rejections}`);
  for (const label of labels) assert.match(label, LABEL);
  const token = lastJobToken();
  assert.ok(createdTokens.has(token), 'progress token created with window/workDoneProgress/create');
  const events = progressOf(token);
  assert.strictEqual(events[0].kind, 'begin');
  assert.strictEqual(events[0].title, 'Refactor to async (AI)');
  assert.strictEqual(events[0].cancellable, true);
  assert.strictEqual(events[events.length - 1].kind, 'end');
  assert.strictEqual(events.filter((e) => e.kind === 'end').length, 1);

  // ---- 2. cancel mid-stream with window/workDoneProgress/cancel: the original comes back
  const cancel = kase.cancel;
  const beforeCancel = doc.text;
  const editsBefore = stats.applied;
  const pending = execute(await pick(rangeOf(cancel.cursor, 0), 'refactor-to-async'));
  await waitFor('the first streamed edits', () => stats.applied > editsBefore + 1);
  const cancelToken = lastJobToken();
  assert.notStrictEqual(cancelToken, token);
  await conn.sendNotification(lsp.WorkDoneProgressCancelNotification.type, { token: cancelToken });
  const cancelResult = await pending;
  log('cancelled:', JSON.stringify(cancelResult));
  assert.strictEqual(cancelResult.outcome, 'cancelled');
  await waitFor('the original text', () => doc.text === beforeCancel, 3000);
  assert.strictEqual(progressOf(cancelToken).slice(-1)[0].kind, 'end');

  // ---- 3. the user types above the region while it streams (stale edits are refused)
  const typing = kase.typing;
  const editsBeforeTyping = stats.applied;
  const running = execute(await pick(rangeOf(typing.cursor, 0), 'refactor-to-async'));
  await waitFor('the first streamed edits', () => stats.applied > editsBeforeTyping + 1);
  let cursor = doc.text.indexOf('\n') + 1; // the start of line 2: above the region
  for (const piece of typing.typed) {
    await userTypes(doc.positionAt(cursor), piece); // one keystroke-sized change at a time
    cursor += piece.length;
    await sleep(7);
  }
  const typingResult = await running;
  log('typing:', JSON.stringify(typingResult), `refused edits: ${stats.rejected}`);
  assert.strictEqual(typingResult.outcome, 'applied');
  await waitFor('the final text', () => doc.text === typing.expected, 3000);
  assert.strictEqual(doc.text, typing.expected);

  // ---- shutdown
  await conn.sendRequest(lsp.ShutdownRequest.type);
  await conn.sendNotification(lsp.ExitNotification.type);
  let exitTimer;
  const exit = await Promise.race([
    exited,
    new Promise((resolve) => (exitTimer = setTimeout(() => resolve({ code: 'timeout' }), 5000))),
  ]);
  clearTimeout(exitTimer);
  assert.strictEqual(exit.code, 0, `server exit: ${JSON.stringify(exit)}`);
  clearTimeout(timer);
  conn.dispose();
  log(`responses-lsp.run answered in ${JSON.stringify(answerTimes)} ms`);
  log(`applyEdit: ${stats.applied} applied, ${stats.rejected} refused, ${stats.clampedPositions} clamped positions`);
  for (const r of stats.rejections) log('  refused:', r);
  console.log(`PASS in ${Date.now() - t0} ms`);
}

main().catch((error) => {
  console.error('FAIL', error && error.stack ? error.stack : error);
  if (doc) console.error('--- document ---\n' + doc.text);
  console.error('--- labels ---\n' + labels.join('\n'));
  console.error('--- messages ---\n' + messages.join('\n'));
  process.exit(1);
});
