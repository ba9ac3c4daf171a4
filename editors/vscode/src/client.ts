/**
 * The language client: how `python -m responses_lsp` is started, and the few places where the
 * extension steps into the protocol (all through vscode-languageclient middleware):
 *
 * - `responses-lsp.run` for an action that needs an instruction asks for it in an input box
 *   (the built-in ones below, custom actions whose prompt uses `{instruction}`, and any action
 *   whose argument object says `needsInstruction: true`);
 * - `responses-lsp.run` answers at once (`outcome: "started"`); the job's end comes as the
 *   `responsesLsp/jobDone` notification (asked for with `clientFeatures.jobDone`), which closes
 *   the job's undo step;
 * - the job's work-done progress becomes a notification with Cancel and a status bar item;
 * - the job's `workspace/applyEdit`s go through the one-undo-step mode;
 * - settings (initializationOptions, `workspace/configuration`, didChangeConfiguration) carry the
 *   server's keys only.
 */
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  RevealOutputChannelOn,
  type LanguageClientOptions,
  type Middleware,
  type ServerOptions,
} from 'vscode-languageclient/node';

import type { Interpreter } from './python';
import type { JobsView } from './jobs';
import { customInstructionActions, SECTION, type ServerSettings } from './settings';
import type { SingleUndo } from './undo';

export const RUN = 'responses-lsp.run';
export const CANCEL = 'responses-lsp.cancel';
export const JOBS = 'responses-lsp.jobs';
export const JOB_DONE = 'responsesLsp/jobDone';

const LAST_INSTRUCTION = 'responsesLsp.lastInstruction';

/** The built-in actions that need an instruction, and what the input box asks for each. */
const INSTRUCTION_PROMPTS: Readonly<Record<string, string>> = {
  'edit-with-instruction': 'How should the model change the selected code?',
  'edit-across-files': 'What should the model change, across the workspace?',
  'refine-last': 'How should the last AI edit be refined?',
  'retry-last': 'What should the model do differently this time?',
};

export interface ClientParts {
  output: vscode.LogOutputChannel;
  jobs: JobsView;
  undo: SingleUndo;
  settings: ServerSettings;
  state: vscode.Memento;
}

/** A running job as `responses-lsp.jobs` lists it. */
export interface RunningJob {
  jobId: number;
  action: string;
  uri: string;
  token: string;
}

/** How a job ended: `responsesLsp/jobDone`'s params (also what `responses-lsp.jobResult` holds). */
export interface JobResult {
  jobId: number;
  outcome: string;
  message: string;
  uri?: string;
  action?: string;
  [key: string]: unknown;
}

/** `responses-lsp.run`'s argument object. */
interface RunRequest {
  action?: unknown;
  uri?: unknown;
  instruction?: unknown;
  /** Honoured when the server marks an action this way (no need to know its id here). */
  needsInstruction?: unknown;
  [key: string]: unknown;
}

/** What to ask when this run needs an instruction it does not have yet. */
function instructionPrompt(request: RunRequest): string | undefined {
  if (request.instruction) {
    return undefined;
  }
  const action = String(request.action ?? '');
  if (action in INSTRUCTION_PROMPTS) {
    return INSTRUCTION_PROMPTS[action];
  }
  if (request.needsInstruction === true || customInstructionActions().has(action)) {
    return 'What should the model do with the selected code?';
  }
  return undefined;
}

async function askInstruction(state: vscode.Memento, prompt: string): Promise<string | undefined> {
  const last = state.get<string>(LAST_INSTRUCTION, '');
  const value = await vscode.window.showInputBox({
    title: 'Edit with instruction',
    prompt,
    placeHolder: 'e.g. use pathlib instead of os.path',
    value: last,
    valueSelection: [0, last.length],
    ignoreFocusOut: true,
  });
  const instruction = value?.trim();
  if (instruction) {
    await state.update(LAST_INSTRUCTION, instruction);
  }
  return instruction || undefined;
}

function middleware(parts: ClientParts, client: () => LanguageClient): Middleware {
  return {
    async executeCommand(command, args, next) {
      if (command !== RUN) {
        return next(command, args);
      }
      let request = (args[0] ?? {}) as RunRequest;
      const prompt = instructionPrompt(request);
      if (prompt) {
        const instruction = await askInstruction(parts.state, prompt);
        if (!instruction) {
          return undefined; // Escape: nothing runs
        }
        request = { ...request, instruction };
      }
      let answer: unknown;
      try {
        answer = await next(command, [request, ...args.slice(1)]);
      } finally {
        // A started job's undo step is closed by its responsesLsp/jobDone; anything else
        // (refused, an error) ended here.
        const started = (answer as { outcome?: unknown } | undefined)?.outcome === 'started';
        if (!started && typeof request.uri === 'string') {
          await parts.undo.finish(request.uri);
        }
      }
      return answer;
    },
    handleWorkDoneProgress: (token, params, next) => parts.jobs.handle(token, params, next),
    workspace: {
      handleApplyEdit: (params, next) => parts.undo.handle(params, next),
      configuration: async (params, token, next) => {
        const result = await next(params, token);
        if (!Array.isArray(result)) {
          return result;
        }
        return params.items.map((item, i) => (item.section === SECTION ? parts.settings.current() : result[i]));
      },
      didChangeConfiguration: async () => {
        await client().sendNotification(DidChangeConfigurationNotification.type, {
          settings: { [SECTION]: parts.settings.current() },
        });
      },
    },
  };
}

export function createClient(python: Interpreter, env: NodeJS.ProcessEnv, parts: ClientParts): LanguageClient {
  const serverOptions: ServerOptions = {
    command: python.command,
    // stdio is the default; `transport: TransportKind.stdio` would append `--stdio`, which the CLI rejects
    args: ['-m', 'responses_lsp'],
    options: { env, cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath },
  };
  const clientOptions: LanguageClientOptions = {
    // Every text document: the actions work on any language (the server filters per action).
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    outputChannel: parts.output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions: {
      [SECTION]: parts.settings.forInitialize(),
      clientFeatures: { singleUndo: true, jobDone: true },
    },
    synchronize: { configurationSection: SECTION },
    middleware: middleware(parts, () => client),
  };
  const client = new LanguageClient(SECTION, 'Responses LSP', serverOptions, clientOptions);
  client.onNotification(JOB_DONE, async (result: JobResult) => {
    if (typeof result?.uri === 'string') {
      await parts.undo.finish(result.uri);
    }
  });
  return client;
}

/** Runs one of the server's commands directly (no middleware). */
export function serverCommand<T>(client: LanguageClient, command: string, args: unknown[] = []): Promise<T> {
  return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }) as Promise<T>;
}
