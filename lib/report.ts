// The run report: what `--json` prints (DESIGN.md "Operator contract") and what the runs
// ledger keeps. Built up while a command runs; redacted as a whole when it is written.
import type { StepResult } from './log.ts';
import { plural } from './plural.ts';
import { redactDeep } from './redact.ts';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  severity: Severity;
  /** Stable, e.g. `preflight.pg_dump`; tests and support scripts key on it. */
  code: string;
  message: string;
  hint: string | null;
}

export interface BackupInfo {
  path: string;
  bytes: number;
  sha256: string;
}

export interface AppliedEntry {
  kind: 'legacy' | 'drizzle' | 'seed' | 'baseline' | 'repeatable';
  name: string;
  durationMs: number;
}

/** One per exit code (docs/exit-codes.md): what the run ended with. */
export type RunStatus = 'ok' | 'failed' | 'usage' | 'refused' | 'problems' | 'locked' | 'unhealthy' | 'interrupted';

/**
 * The status, told apart by whether this run changed the database first: `applied-then-problems`
 * (exit 4 after steps were applied), `applied-then-unhealthy` (exit 6 after steps were applied),
 * `interrupted-after-changes` (exit 130 once a change was made). Otherwise the status itself.
 */
export type RunOutcome = RunStatus | 'applied-then-problems' | 'applied-then-unhealthy' | 'interrupted-after-changes';

const STATUS_BY_EXIT: Record<number, RunStatus> = {
  0: 'ok',
  1: 'failed',
  2: 'usage',
  3: 'refused',
  4: 'problems',
  5: 'locked',
  6: 'unhealthy',
  130: 'interrupted',
};

export function statusFor(exitCode: number): RunStatus {
  return STATUS_BY_EXIT[exitCode] ?? 'failed';
}

export function outcomeFor(exitCode: number, changed: boolean): RunOutcome {
  const status = statusFor(exitCode);
  if (!changed) return status;
  if (status === 'problems') return 'applied-then-problems';
  if (status === 'unhealthy') return 'applied-then-unhealthy';
  if (status === 'interrupted') return 'interrupted-after-changes';
  return status;
}

/** What the run changed: whether it wrote to the database, and how many entries it applied (those of `applied`). */
export interface Changes {
  made: boolean;
  steps: number;
}

/** The outcome as one sentence, e.g. `applied 3 steps, then verification found 1 problem`. */
export function describeOutcome(exitCode: number, changes: Changes, errors: number): string {
  const did = changes.steps
    ? `applied ${plural(changes.steps, 'step')}`
    : changes.made
      ? 'changed the database'
      : 'changed nothing';
  const problems = errors ? plural(errors, 'problem') : 'problems';
  switch (statusFor(exitCode)) {
    case 'ok':
      return changes.made ? `${did}; done` : 'done; changed nothing';
    case 'failed':
      return changes.made
        ? `${did}, then failed; the database stands part-way (the message says where and how to go back)`
        : 'failed; see the message for whether anything changed';
    case 'usage':
      return 'usage or configuration error; nothing was done';
    case 'refused':
      return 'refused before any change; nothing was changed';
    case 'problems':
      return changes.made
        ? `${did}, then verification found ${problems}`
        : `verification found ${problems}; nothing was changed`;
    case 'locked':
      return 'another upkit run holds the lock; nothing was changed';
    case 'unhealthy':
      return changes.made ? `${did}, then the health checks failed` : 'the health checks failed; nothing was changed';
    case 'interrupted':
      return changes.made ? `${did}, then was interrupted` : 'interrupted; nothing was changed';
  }
}

export interface Report {
  tool: 'upkit';
  version: string;
  command: string;
  /** One per exit code: ok 0, failed 1, usage 2, refused 3, problems 4, locked 5, unhealthy 6, interrupted 130. */
  status: RunStatus;
  /** The status, told apart by whether this run changed the database before it ended so. */
  outcome: RunOutcome;
  /** The outcome as one sentence a person reads. */
  summary: string;
  changes: Changes;
  exitCode: number;
  release: { from: string | null; to: string | null };
  durationMs: number;
  phases: Array<{ name: string; status: StepResult['status']; durationMs: number; detail: string }>;
  backup: BackupInfo | null;
  applied: AppliedEntry[];
  findings: Finding[];
  logFile: string | null;
  /** The plan, for upgrade and install (what --dry-run --json emits). */
  plan?: unknown;
}

export class ReportBuilder {
  readonly findings: Finding[] = [];
  readonly applied: AppliedEntry[] = [];
  backup: BackupInfo | null = null;
  release: Report['release'] = { from: null, to: null };
  plan: unknown = undefined;
  /** Set once the run has written to the database (a step applied, a restore swapped in). */
  changed = false;
  /** How many errors verification found, when the run verified (other findings may be errors too). */
  verificationErrors: number | undefined = undefined;
  private readonly started = performance.now();

  readonly command: string;
  readonly version: string;

  constructor(command: string, version: string) {
    this.command = command;
    this.version = version;
  }

  finding(severity: Severity, code: string, message: string, hint?: string): Finding {
    const f: Finding = { severity, code, message, hint: hint ?? null };
    this.findings.push(f);
    return f;
  }

  hasErrors(): boolean {
    return this.findings.some((f) => f.severity === 'error');
  }

  build(exitCode: number, steps: readonly StepResult[], logFile: string | undefined): Report {
    const changes: Changes = { made: this.changed || this.applied.length > 0, steps: this.applied.length };
    const errors = this.findings.filter((f) => f.severity === 'error').length;
    return redactDeep({
      tool: 'upkit',
      version: this.version,
      command: this.command,
      status: statusFor(exitCode),
      outcome: outcomeFor(exitCode, changes.made),
      summary: describeOutcome(exitCode, changes, this.verificationErrors ?? errors),
      changes,
      exitCode,
      release: this.release,
      durationMs: Math.round(performance.now() - this.started),
      phases: steps.map((s) => ({ name: s.name, status: s.status, durationMs: s.durationMs, detail: s.detail })),
      backup: this.backup,
      applied: this.applied,
      findings: this.findings,
      logFile: logFile ?? null,
      ...(this.plan === undefined ? {} : { plan: this.plan }),
    });
  }
}
