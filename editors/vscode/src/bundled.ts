/**
 * The server that ships inside the .vsix: `bundled/responses_lsp-<version>-py3-none-any.whl`.
 *
 * On first use (and after an update of the extension) it is installed into the extension's own
 * virtual environment under its global storage, with a progress notification: `python -m venv`
 * with a base Python (the Python extension's interpreter, else `python3`), then `pip install`
 * of the wheel (its dependencies come from the user's package index, PyPI by default). The
 * environment is reused while the wheel is the same; nothing else on the machine is touched.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

import type { Interpreter } from './python';

const MARKER = '.responses-lsp-wheel';
const INSTALL_TIMEOUT_MS = 10 * 60 * 1000;

function run(command: string, args: string[], timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const tail = `${stderr || ''}${stdout || ''}`.trim().split('\n').slice(-6).join('\n');
        reject(new Error(`${path.basename(command)} ${args.slice(0, 3).join(' ')} failed: ${tail || error.message}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** The wheel in the extension's `bundled/` folder, or undefined (a development build). */
export function bundledWheel(extensionPath: string): string | undefined {
  const dir = path.join(extensionPath, 'bundled');
  const wheels = fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => /^responses_lsp-.*\.whl$/.test(name)) : [];
  return wheels.length ? path.join(dir, wheels.sort().pop()!) : undefined;
}

function envPython(envDir: string): string {
  return process.platform === 'win32' ? path.join(envDir, 'Scripts', 'python.exe') : path.join(envDir, 'bin', 'python');
}

/**
 * The interpreter of the extension's own environment with the bundled server installed,
 * installing it first when needed. `basePython` creates the environment.
 */
export async function bundledServer(
  context: vscode.ExtensionContext,
  basePython: Interpreter,
  output: vscode.LogOutputChannel,
): Promise<Interpreter> {
  const wheel = bundledWheel(context.extensionPath);
  if (!wheel) {
    throw new Error('this build of the extension has no bundled server (build it with `make vsix`)');
  }
  const envDir = path.join(context.globalStorageUri.fsPath, 'server-env');
  const python = envPython(envDir);
  const marker = path.join(envDir, MARKER);
  const wanted = path.basename(wheel);
  const installed = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8').trim() : '';
  if (installed === wanted && fs.existsSync(python)) {
    return { command: python, source: 'the bundled server' };
  }
  await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: 'Responses LSP: installing the language server (first start, about a minute)',
      cancellable: false,
    },
    async (progress) => {
      output.info(`installing the bundled server ${wanted} into ${envDir} (base: ${basePython.command})`);
      fs.rmSync(envDir, { recursive: true, force: true });
      fs.mkdirSync(path.dirname(envDir), { recursive: true });
      progress.report({ message: `creating an environment with ${basePython.command}…` });
      await run(basePython.command, ['-m', 'venv', envDir], 120000);
      progress.report({ message: `pip install ${wanted} and its dependencies…` });
      await run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', wheel], INSTALL_TIMEOUT_MS);
      fs.writeFileSync(marker, `${wanted}\n`);
      output.info(`installed the bundled server ${wanted}`);
    },
  );
  return { command: python, source: 'the bundled server' };
}
