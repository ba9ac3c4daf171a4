/**
 * Running AI edits as the user sees them: a progress notification with a Cancel button per job,
 * and a status bar item while any job runs.
 *
 * Driven by the server's work-done progress (`responses-lsp/job/N` tokens, cancellable): the
 * languageclient's `handleWorkDoneProgress` middleware hands every begin/report/end here instead
 * of to its default (a silent status-bar spinner). Cancel sends `window/workDoneProgress/cancel`.
 */
import * as vscode from 'vscode';
import type { ProgressToken, WorkDoneProgressBegin, WorkDoneProgressEnd, WorkDoneProgressReport } from 'vscode-languageclient/node';

const JOB_TOKEN = 'responses-lsp/job/';
const RUNNING_CONTEXT = 'responsesLsp.jobRunning';

type ProgressValue = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

interface Job {
  title: string;
  progress?: vscode.Progress<{ message?: string }>;
  finish: () => void;
}

export class JobsView implements vscode.Disposable {
  private readonly jobs = new Map<string, Job>();
  private readonly status = vscode.window.createStatusBarItem('responsesLsp.jobs', vscode.StatusBarAlignment.Left, 100);

  /** `cancel(token)` asks the server to cancel the job behind a progress token. */
  constructor(private readonly cancel: (token: string) => void) {
    this.status.name = 'Responses LSP';
    this.status.command = 'responsesLsp.cancel';
  }

  /** The `handleWorkDoneProgress` middleware. */
  handle(token: ProgressToken, value: ProgressValue, next: (token: ProgressToken, value: ProgressValue) => void): void {
    if (typeof token !== 'string' || !token.startsWith(JOB_TOKEN)) {
      next(token, value);
      return;
    }
    switch (value.kind) {
      case 'begin':
        this.begin(token, value);
        break;
      case 'report':
        if (value.message) {
          this.jobs.get(token)?.progress?.report({ message: value.message });
        }
        break;
      case 'end':
        this.end(token);
        next(token, value); // lets the languageclient drop its bookkeeping for the token
        break;
    }
  }

  /** Titles of the running jobs by progress token. */
  titles(): Map<string, string> {
    return new Map([...this.jobs].map(([token, job]) => [token, job.title]));
  }

  /** Ends every job's UI (the server stopped). */
  clear(): void {
    for (const token of [...this.jobs.keys()]) {
      this.end(token);
    }
  }

  dispose(): void {
    this.clear();
    this.status.dispose();
  }

  private begin(token: string, value: WorkDoneProgressBegin): void {
    let finish = (): void => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const job: Job = { title: value.title, finish };
    this.jobs.set(token, job);
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: value.title, cancellable: value.cancellable ?? false },
      (progress, cancellation) => {
        job.progress = progress;
        if (value.message) {
          progress.report({ message: value.message });
        }
        cancellation.onCancellationRequested(() => this.cancel(token));
        return finished;
      },
    );
    this.update();
  }

  private end(token: string): void {
    const job = this.jobs.get(token);
    if (job) {
      this.jobs.delete(token);
      job.finish();
      this.update();
    }
  }

  private update(): void {
    const count = this.jobs.size;
    void vscode.commands.executeCommand('setContext', RUNNING_CONTEXT, count > 0);
    if (count === 0) {
      this.status.hide();
      return;
    }
    const [first] = this.jobs.values();
    this.status.text = count === 1 ? `$(sync~spin) ${first.title}` : `$(sync~spin) ${count} AI edits`;
    this.status.tooltip = 'responses-lsp is rewriting code. Click to cancel.';
    this.status.show();
  }
}
