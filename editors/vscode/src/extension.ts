/**
 * Entry point: starts the server, restarts it when needed (debounced), registers the commands.
 *
 * Thin on purpose: finding Python (python.ts), the key (apiKey.ts), the protocol glue
 * (client.ts), progress (jobs.ts) and the one-undo-step mode (undo.ts) live in their modules.
 */
import * as vscode from 'vscode';
import { WorkDoneProgressCancelNotification, type LanguageClient } from 'vscode-languageclient/node';

import { ApiKeyStore } from './apiKey';
import { CANCEL, createClient, JOBS, RUN, serverCommand, type ClientParts, type RunningJob } from './client';
import { JobsView } from './jobs';
import { bundledServer } from './bundled';
import { configuredServer, onDidChangePythonInterpreter, resolveInterpreter, serverVersion, type Interpreter } from './python';
import { needsRestart, SECTION, serverKeys, ServerSettings } from './settings';
import { SingleUndo } from './undo';

const RESTART_DELAY_MS = 1000;

let client: LanguageClient | undefined;
let lifecycle: Promise<void> = Promise.resolve();

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Responses LSP', { log: true });
  const keys = new ApiKeyStore(context.secrets);
  const jobs = new JobsView((token) => {
    void client?.sendNotification(WorkDoneProgressCancelNotification.type, { token });
  });
  const parts: ClientParts = {
    output,
    jobs,
    undo: new SingleUndo(() => client!.protocol2CodeConverter),
    settings: new ServerSettings(serverKeys(context.extension.packageJSON)),
    state: context.workspaceState,
  };

  let keyEnv = 'OPENAI_API_KEY';
  let env: NodeJS.ProcessEnv = process.env;
  const start = async (): Promise<void> => {
    keyEnv = vscode.workspace.getConfiguration(SECTION).get<string>('apiKeyEnv') || 'OPENAI_API_KEY';
    env = { ...process.env, ...(await keys.serverEnv(keyEnv)) };
    keys.showMissing(env, keyEnv);
    let python: Interpreter | undefined;
    try {
      python = configuredServer() ?? (await bundledServer(context, await resolveInterpreter(), output));
      const version = await serverVersion(python, env);
      output.info(`starting responses-lsp ${version} with ${python.command} (from ${python.source})`);
    } catch (error) {
      output.error(String(error));
      void vscode.window
        .showErrorMessage(
          `Responses LSP: ${(error as Error).message}. The extension installs its bundled server with Python 3.11+ (the Python extension's interpreter, else python3); or set responsesLsp.serverPath to an installed responses-lsp (\`uv tool install ~/responses-lsp\`, see the README).`,
          'Open Settings',
          'Show Log',
        )
        .then((choice) => {
          if (choice === 'Open Settings') {
            void vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.serverPath`);
          } else if (choice === 'Show Log') {
            output.show();
          }
        });
      return;
    }
    client = createClient(python, env, parts);
    await client.start();
  };
  const stop = async (): Promise<void> => {
    const running = client;
    client = undefined;
    jobs.clear();
    if (running) {
      await running.stop(2000).catch((error: unknown) => output.warn(`stopping the server: ${String(error)}`));
    }
  };
  const restart = (): Promise<void> => {
    lifecycle = lifecycle.then(stop).then(start).catch((error: unknown) => {
      output.error(`the server did not start: ${String(error)}`);
      void vscode.window.showErrorMessage('Responses LSP: the server did not start; see the log.', 'Show Log').then((choice) => {
        if (choice) {
          output.show();
        }
      });
    });
    return lifecycle;
  };
  let timer: NodeJS.Timeout | undefined;
  const restartSoon = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void restart(), RESTART_DELAY_MS);
  };

  context.subscriptions.push(
    output,
    jobs,
    keys,
    { dispose: () => clearTimeout(timer) },
    vscode.commands.registerCommand('responsesLsp.restart', restart),
    vscode.commands.registerCommand('responsesLsp.cancel', () => cancel(jobs)),
    vscode.commands.registerCommand('responsesLsp.editWithInstruction', editWithInstruction),
    vscode.commands.registerCommand('responsesLsp.setApiKey', () => keys.ask()),
    vscode.commands.registerCommand('responsesLsp.clearApiKey', () => keys.clear()),
    vscode.commands.registerCommand('responsesLsp.showLog', () => output.show()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (needsRestart(event)) {
        restartSoon();
      } else if (event.affectsConfiguration(`${SECTION}.apiKey`)) {
        keys.showMissing(env, keyEnv); // the server reloads the setting itself
      }
    }),
    keys.onDidChange(restartSoon),
  );
  const pythonWatch = await onDidChangePythonInterpreter(() => {
    if (!configuredServer()) {
      restartSoon();
    }
  });
  if (pythonWatch) {
    context.subscriptions.push(pythonWatch);
  }
  await restart();
}

export async function deactivate(): Promise<void> {
  await lifecycle;
  await client?.stop(2000);
  client = undefined;
}

/** `Responses LSP: Cancel`: the one running job, or the ones picked from a list. */
async function cancel(jobs: JobsView): Promise<void> {
  if (!client?.isRunning()) {
    return;
  }
  const running = await serverCommand<RunningJob[]>(client, JOBS);
  if (running.length === 0) {
    void vscode.window.showInformationMessage('Responses LSP: no AI edit is running.');
    return;
  }
  let chosen = running;
  if (running.length > 1) {
    const titles = jobs.titles();
    const picks = await vscode.window.showQuickPick(
      running.map((job) => ({
        label: titles.get(job.token) ?? job.action,
        description: vscode.workspace.asRelativePath(vscode.Uri.parse(job.uri)),
        job,
      })),
      { canPickMany: true, title: 'Cancel AI edits', placeHolder: 'Which edits to cancel?' },
    );
    chosen = (picks ?? []).map((pick) => pick.job);
  }
  for (const job of chosen) {
    await serverCommand(client, CANCEL, [{ jobId: job.jobId }]);
  }
}

/** `Responses LSP: Edit with Instruction…` from the command palette: the selection, or the block at the cursor. */
async function editWithInstruction(): Promise<unknown> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !client) {
    return undefined;
  }
  const c2p = client.code2ProtocolConverter;
  // through the registered command, so the middleware asks for the instruction
  return vscode.commands.executeCommand(RUN, {
    action: 'edit-with-instruction',
    uri: c2p.asUri(editor.document.uri),
    range: c2p.asRange(editor.selection),
  });
}
