/**
 * Finding the Python interpreter that runs `python -m responses_lsp`.
 *
 * Explicit settings win: `responsesLsp.serverPath` (the `responses-lsp` executable), then
 * `responsesLsp.interpreter` (a Python with `responses_lsp`). Otherwise the extension runs the
 * server bundled in the .vsix (bundled.ts), in an environment created from the interpreter
 * selected in the Python extension (`ms-python.python`, when installed), else `python3` on PATH.
 */
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import * as vscode from 'vscode';

import { SECTION } from './settings';

export interface Interpreter {
  command: string;
  /** Where it came from, for the log and for error messages. */
  source: string;
  /** True when `command` is the server itself (`responsesLsp.serverPath`), not a Python. */
  isServer?: boolean;
}

/** The part of the Python extension's API used here (`@vscode/python-extension`). */
interface PythonApi {
  environments: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(path: string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
}

const PYTHON_EXTENSION = 'ms-python.python';

function expand(value: string): string {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
  return value
    .replace(/\$\{workspaceFolder\}/g, folder)
    .replace(/\$\{userHome\}/g, os.homedir())
    .replace(/^~(?=$|[\\/])/, os.homedir());
}

async function pythonApi(): Promise<PythonApi | undefined> {
  const extension = vscode.extensions.getExtension<PythonApi>(PYTHON_EXTENSION);
  if (!extension) {
    return undefined;
  }
  try {
    return extension.isActive ? extension.exports : await extension.activate();
  } catch {
    return undefined;
  }
}

/** What the user set explicitly: `responsesLsp.serverPath`, else `responsesLsp.interpreter`. */
export function configuredServer(): Interpreter | undefined {
  const config = vscode.workspace.getConfiguration(SECTION);
  const server = config.get<string>('serverPath')?.trim();
  if (server) {
    return { command: expand(server), source: `setting ${SECTION}.serverPath`, isServer: true };
  }
  const configured = config.get<string>('interpreter')?.trim();
  if (configured) {
    return { command: expand(configured), source: `setting ${SECTION}.interpreter` };
  }
  return undefined;
}

/** A Python to create the bundled server's environment with: the Python extension's, else PATH's. */
export async function resolveInterpreter(): Promise<Interpreter> {
  const api = await pythonApi();
  if (api) {
    try {
      const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
      const active = api.environments.getActiveEnvironmentPath(resource);
      const resolved = await api.environments.resolveEnvironment(active.path);
      const executable = resolved?.executable.uri?.fsPath;
      if (executable) {
        return { command: executable, source: 'the Python extension' };
      }
    } catch {
      // fall through to PATH
    }
  }
  return { command: process.platform === 'win32' ? 'python' : 'python3', source: 'PATH' };
}

/** Fires when the Python extension's interpreter changes (nothing when it is not installed). */
export async function onDidChangePythonInterpreter(listener: () => void): Promise<vscode.Disposable | undefined> {
  const api = await pythonApi();
  return api?.environments.onDidChangeActiveEnvironmentPath(listener);
}

/** The installed server's version, or an error saying why `python -m responses_lsp` cannot run. */
export function serverVersion(python: Interpreter, env: NodeJS.ProcessEnv): Promise<string> {
  // imports the server module (pygls, lsprotocol) to catch missing dependencies too
  const probe = 'import responses_lsp, responses_lsp.language_server; print(responses_lsp.__version__)';
  const args = python.isServer ? ['--version'] : ['-c', probe];
  return new Promise((resolve, reject) => {
    execFile(python.command, args, { env, timeout: 15000 }, (error, stdout, stderr) => {
      if (error) {
        const detail = (stderr || error.message).trim().split('\n').pop();
        const what = python.isServer ? 'cannot run' : 'cannot import responses_lsp';
        reject(new Error(`${python.command} (from ${python.source}) ${what}: ${detail}`));
      } else {
        resolve(stdout.trim());
      }
    });
  });
}
