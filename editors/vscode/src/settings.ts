/**
 * The `responsesLsp.*` settings: which ones the server gets, and which only the extension reads.
 *
 * package.json is the one list: every `responsesLsp.*` property except the extension-only ones
 * below is a server setting (tests/unit/test_editor_settings_contract.py checks it against the
 * server's settings model). Only values the user actually set are sent, so the server's own
 * defaults and environment fallbacks (`OPENAI_BASE_URL`) still apply to the rest.
 */
import * as vscode from 'vscode';

export const SECTION = 'responsesLsp';

/** Read by the extension, never sent to the server (it would reject them as unknown). */
export const EXTENSION_ONLY: ReadonlySet<string> = new Set(['interpreter', 'serverPath', 'trace.server']);

/** Changing one of these needs a new server process; the rest is reloaded live. */
export const RESTART_KEYS: readonly string[] = ['interpreter', 'serverPath', 'apiKeyEnv'];

/** The server's keys, from this extension's package.json (without the `responsesLsp.` prefix). */
export function serverKeys(packageJSON: { contributes?: { configuration?: { properties?: object } } }): string[] {
  const properties = packageJSON.contributes?.configuration?.properties ?? {};
  return Object.keys(properties)
    .filter((key) => key.startsWith(`${SECTION}.`))
    .map((key) => key.slice(SECTION.length + 1))
    .filter((key) => !EXTENSION_ONLY.has(key));
}

/** Tracks what went out in `initializationOptions`, so a later unset can be sent as a reset. */
export class ServerSettings {
  private sentAtStart = new Set<string>();

  constructor(private readonly keys: readonly string[]) {}

  /** The settings for `initializationOptions.responsesLsp` (remembers which keys were sent). */
  forInitialize(): Record<string, unknown> {
    const values = this.explicit();
    this.sentAtStart = new Set(Object.keys(values));
    return values;
  }

  /**
   * The section for `workspace/configuration` and `workspace/didChangeConfiguration`.
   *
   * The server layers these values over `initializationOptions`, so a key the user has unset
   * since the start is sent with its default instead of being left out.
   */
  current(): Record<string, unknown> {
    const values = this.explicit();
    const config = vscode.workspace.getConfiguration(SECTION);
    for (const key of this.sentAtStart) {
      if (!(key in values)) {
        values[key] = config.inspect(key)?.defaultValue ?? null;
      }
    }
    return values;
  }

  private explicit(): Record<string, unknown> {
    const config = vscode.workspace.getConfiguration(SECTION);
    const values: Record<string, unknown> = {};
    for (const key of this.keys) {
      const info = config.inspect(key);
      if (!info) {
        continue;
      }
      const set = [
        info.globalValue,
        info.workspaceValue,
        info.workspaceFolderValue,
        info.globalLanguageValue,
        info.workspaceLanguageValue,
        info.workspaceFolderLanguageValue,
      ].some((value) => value !== undefined);
      if (set) {
        values[key] = config.get(key);
      }
    }
    return values;
  }
}

/** Does this configuration change need a server restart? */
export function needsRestart(event: vscode.ConfigurationChangeEvent): boolean {
  return RESTART_KEYS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
}

/** Ids of the custom actions whose prompt uses `{instruction}` (they ask for it). */
export function customInstructionActions(): Set<string> {
  const actions = vscode.workspace.getConfiguration(SECTION).get<unknown[]>('actions') ?? [];
  const ids = new Set<string>();
  for (const action of actions) {
    if (action && typeof action === 'object') {
      const { id, prompt } = action as { id?: unknown; prompt?: unknown };
      if (typeof id === 'string' && typeof prompt === 'string' && prompt.includes('{instruction}')) {
        ids.add(id);
      }
    }
  }
  return ids;
}
