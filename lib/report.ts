// The run report: what `--json` prints (DESIGN.md "Operator contract") and what the runs
// ledger keeps. Built up while a command runs; redacted as a whole when it is written.
import type { StepResult } from './log.ts';
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
  kind: 'legacy' | 'drizzle' | 'seed' | 'baseline';
  name: string;
  durationMs: number;
}

export type RunStatus = 'ok' | 'failed' | 'refused' | 'interrupted';

export interface Report {
  tool: 'upkit';
  version: string;
  command: string;
  status: RunStatus;
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
  private readonly started = performance.now();

  constructor(
    readonly command: string,
    readonly version: string,
  ) {}

  finding(severity: Severity, code: string, message: string, hint?: string): Finding {
    const f: Finding = { severity, code, message, hint: hint ?? null };
    this.findings.push(f);
    return f;
  }

  hasErrors(): boolean {
    return this.findings.some((f) => f.severity === 'error');
  }

  build(exitCode: number, steps: readonly StepResult[], logFile: string | undefined): Report {
    const status: RunStatus = exitCode === 0 ? 'ok' : exitCode === 130 ? 'interrupted' : exitCode === 1 ? 'failed' : 'refused';
    return redactDeep({
      tool: 'upkit',
      version: this.version,
      command: this.command,
      status,
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
