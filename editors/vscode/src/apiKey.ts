/**
 * The API key kept in VS Code's secret storage (never in a settings file).
 *
 * The server reads its key from the environment variable named by `responsesLsp.apiKeyEnv`, so a
 * stored key is handed to the server process under that name; it overrides the variable the
 * editor was started with.
 */
import * as vscode from 'vscode';

const SECRET = 'responsesLsp.apiKey';

export class ApiKeyStore implements vscode.Disposable {
  /** Shown while the server runs without any key (its actions are then disabled). */
  private readonly missing = vscode.window.createStatusBarItem('responsesLsp.apiKey', vscode.StatusBarAlignment.Left, 99);

  constructor(private readonly secrets: vscode.SecretStorage) {
    this.missing.name = 'Responses LSP: API key';
    this.missing.text = '$(key) Set API key';
    this.missing.tooltip = 'Responses LSP has no API key, so its AI actions are disabled. Click to store one in VS Code secret storage.';
    this.missing.command = 'responsesLsp.setApiKey';
    this.missing.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
  }

  dispose(): void {
    this.missing.dispose();
  }

  /** Shows the "Set API key" item when the server gets no key from any source. */
  showMissing(env: NodeJS.ProcessEnv, envName: string): void {
    const inSettings = vscode.workspace.getConfiguration('responsesLsp').get<string | null>('apiKey');
    if (env[envName] || inSettings) {
      this.missing.hide();
    } else {
      this.missing.show();
    }
  }

  /** Fires when the stored key is set or cleared. */
  onDidChange(listener: () => void): vscode.Disposable {
    return this.secrets.onDidChange((event) => {
      if (event.key === SECRET) {
        listener();
      }
    });
  }

  /** The environment for the server process: the stored key under `envName`, if there is one. */
  async serverEnv(envName: string): Promise<Record<string, string>> {
    const key = await this.secrets.get(SECRET);
    return key ? { [envName]: key } : {};
  }

  /** `Responses LSP: Set API Key`. */
  async ask(): Promise<void> {
    const key = await vscode.window.showInputBox({
      title: 'Responses LSP: API key',
      prompt: 'Stored in VS Code secret storage and passed to the server as an environment variable.',
      placeHolder: 'sk-…',
      password: true,
      ignoreFocusOut: true,
    });
    if (key === undefined) {
      return;
    }
    if (key.trim()) {
      await this.secrets.store(SECRET, key.trim());
      void vscode.window.showInformationMessage('Responses LSP: API key stored; the server restarts to use it.');
    } else {
      await this.clear();
    }
  }

  /** `Responses LSP: Clear Stored API Key`. */
  async clear(): Promise<void> {
    await this.secrets.delete(SECRET);
    void vscode.window.showInformationMessage('Responses LSP: stored API key removed.');
  }
}
