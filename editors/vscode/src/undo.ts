/**
 * The one-undo-step streaming mode (DESIGN I8): all edits of one job become one undo step.
 *
 * The server labels its streamed edits `responses-lsp job <id>: <intent>`. When such an edit
 * targets a document shown in an editor, it is applied with `TextEditor.edit` and no undo stop
 * between chunks (a stop before the job's first edit, one after its end), instead of
 * `workspace.applyEdit`, which closes an undo step per call. Like VS Code's own applyEdit, an
 * edit for a version the document has left is refused with `applied: false`. Everything else
 * (other labels, several documents, file operations, a document not visible) takes the
 * languageclient's standard path.
 */
import * as vscode from 'vscode';
import {
  CancellationToken,
  type ApplyWorkspaceEditParams,
  type ApplyWorkspaceEditRequest,
  type ApplyWorkspaceEditResult,
  type Protocol2CodeConverter,
  type ResponseError,
  type TextEdit,
} from 'vscode-languageclient/node';

const LABEL = /^responses-lsp job (\d+):/;

interface Plan {
  uri: string;
  version: number | null;
  edits: TextEdit[];
}

/** One document, plain text edits: what this mode can apply through a text editor. */
function plan(params: ApplyWorkspaceEditParams): Plan | undefined {
  const { documentChanges, changes } = params.edit;
  if (documentChanges) {
    const first = documentChanges[0];
    if (documentChanges.length !== 1 || !first || !('textDocument' in first)) {
      return undefined;
    }
    const edits = first.edits;
    if (edits.some((edit) => 'annotationId' in edit || 'snippet' in edit)) {
      return undefined;
    }
    return { uri: first.textDocument.uri, version: first.textDocument.version, edits: edits as TextEdit[] };
  }
  const uris = Object.keys(changes ?? {});
  if (changes && uris.length === 1) {
    return { uri: uris[0], version: null, edits: changes[uris[0]] };
  }
  return undefined;
}

export class SingleUndo {
  /**
   * Undo steps left open, by `uri#label id`, with the editor they went to. The label's id is
   * the server's id of the job's region in that document (not the `jobId` that
   * `responses-lsp.run` returns), so a step is closed by document when a run ends.
   */
  private readonly open = new Map<string, { uri: string; editor: vscode.TextEditor }>();

  constructor(private readonly converter: () => Protocol2CodeConverter) {}

  /** The `workspace.handleApplyEdit` middleware. */
  async handle(
    params: ApplyWorkspaceEditParams,
    next: ApplyWorkspaceEditRequest.HandlerSignature,
  ): Promise<ApplyWorkspaceEditResult | ResponseError<void>> {
    const job = params.label ? LABEL.exec(params.label)?.[1] : undefined;
    const target = job !== undefined ? plan(params) : undefined;
    const p2c = this.converter();
    const uri = target && p2c.asUri(target.uri).toString();
    const editor = uri && vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri);
    if (job === undefined || !target || !editor) {
      return next(params, CancellationToken.None);
    }
    const document = editor.document;
    if (target.version !== null && target.version !== document.version) {
      return { applied: false, failureReason: `document version ${document.version}, edit for ${target.version}` };
    }
    const key = `${target.uri}#${job}`;
    const first = !this.open.has(key);
    this.open.set(key, { uri: target.uri, editor });
    const applied = await editor.edit(
      (builder) => {
        for (const edit of target.edits) {
          builder.replace(p2c.asRange(edit.range), edit.newText);
        }
      },
      { undoStopBefore: first, undoStopAfter: false },
    );
    return applied ? { applied } : { applied, failureReason: 'the document changed before the edit could be applied' };
  }

  /**
   * A run on `uri` ended (its `responsesLsp/jobDone` came): close its undo step so the next
   * edit (the user's) starts a new one.
   */
  async finish(uri: string): Promise<void> {
    const editors = new Set<vscode.TextEditor>();
    for (const [key, step] of [...this.open]) {
      if (step.uri === uri) {
        this.open.delete(key);
        editors.add(step.editor);
      }
    }
    for (const editor of editors) {
      try {
        await editor.edit(() => undefined, { undoStopBefore: false, undoStopAfter: true });
      } catch {
        // the editor was closed meanwhile: its undo stack went with it
      }
    }
  }
}
