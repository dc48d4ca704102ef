// The types of upkit's library entry (`import { upgrade, verify } from 'upkit'`, index.js).
// Self-contained, so that an app's TypeScript reads them whatever its settings; the
// implementation (lib/api.ts) uses them, and a test holds `Report` to lib/report.ts's.

/** Where progress goes: a stream (process.stderr by default), or anything with write(). */
export interface LogStream {
  write(text: string): unknown;
}

export interface ApiOptions {
  /** The database, as DATABASE_URL would name it (it replaces DATABASE_URL of `env`). */
  databaseUrl?: string;
  /**
   * The environment the configuration is read from (default: process.env): DATABASE_URL or DB_*, LOCK_TIMEOUT,
   * BACKUP_DIR, …
   */
  env?: Record<string, string | undefined>;
  /** A file of settings (KEY=VALUE) instead of `.env` in `cwd`. */
  envFile?: string;
  /** Where `.env` and relative paths are read from (default: process.cwd()). */
  cwd?: string;
  /** The app's drizzle folder (holding meta/_journal.json); without it, Pulse's content. */
  drizzleDir?: string;
  /** Where progress and errors are written, one line each (default: process.stderr). Never stdout unless given. */
  log?: LogStream;
  /** The folder of upkit's log file (default: UPKIT_LOG_DIR, else logs/ beside upkit); false: no log file. */
  logDir?: string | false;
  /** Stops the run as SIGTERM stops the command line: rolled back, lock released, exit 130. */
  signal?: AbortSignal;
}

export interface UpgradeApiOptions extends ApiOptions {
  /**
   * When another run holds the run lock: wait for it up to this many seconds (1 to 86400), then plan again. Default:
   * exit 5 at once.
   */
  waitForLockSeconds?: number;
  /** false: take no backup (your own snapshot replaces it). Default true: a verified backup before any change. */
  backup?: boolean;
  /** Where the backup goes (default BACKUP_DIR). */
  backupDir?: string;
  /** Plan only: nothing is changed, no lock, no backup. */
  dryRun?: boolean;
  /** Accept destructive statements: all (true), or those of the named migrations. */
  allowDestructive?: boolean | readonly string[];
}

export interface VerifyApiOptions extends ApiOptions {
  /** false: build no scratch database to replay the app's migrations in (a cached replay, else its snapshot). */
  shadow?: boolean;
}

/** One per exit code: ok 0, failed 1, usage 2, refused 3, problems 4, locked 5, unhealthy 6, interrupted 130. */
export type RunStatus = 'ok' | 'failed' | 'usage' | 'refused' | 'problems' | 'locked' | 'unhealthy' | 'interrupted';

/** The status, told apart by whether the run changed the database before it ended so. */
export type RunOutcome = RunStatus | 'applied-then-problems' | 'applied-then-unhealthy' | 'interrupted-after-changes';

export interface Finding {
  severity: 'error' | 'warning' | 'info';
  code: string;
  message: string;
  hint: string | null;
}

/** The report `--json` prints, the same object. */
export interface Report {
  tool: 'upkit';
  version: string;
  command: string;
  status: RunStatus;
  outcome: RunOutcome;
  summary: string;
  changes: { made: boolean; steps: number };
  exitCode: number;
  release: { from: string | null; to: string | null };
  durationMs: number;
  phases: Array<{ name: string; status: 'ok' | 'failed' | 'skipped' | 'warning'; durationMs: number; detail: string }>;
  backup: { path: string; bytes: number; sha256: string } | null;
  applied: Array<{ kind: 'legacy' | 'drizzle' | 'seed' | 'baseline' | 'repeatable'; name: string; durationMs: number }>;
  findings: Finding[];
  logFile: string | null;
  plan?: unknown;
}

export interface ApiResult {
  /** exitCode is 0. */
  ok: boolean;
  /**
   * The command line's exit code: 0 ok, 1 failed after changes began, 2 usage or configuration, 3 refused (nothing
   * changed), 4 verification found problems, 5 another run holds the lock, 6 health, 130 interrupted.
   */
  exitCode: number;
  status: RunStatus;
  outcome: RunOutcome;
  report: Report;
}

/** The exit codes, by name. */
export declare const EXIT: {
  readonly ok: 0;
  readonly failed: 1;
  readonly usage: 2;
  readonly refused: 3;
  readonly verification: 4;
  readonly locked: 5;
  readonly health: 6;
  readonly interrupted: 130;
};

/**
 * `npx zx upgrade.ts --yes --no-containers`, in process. Never throws for a failed run: the result says how it ended.
 */
export declare function upgrade(options?: UpgradeApiOptions): Promise<ApiResult>;

/** `npx zx verify/index.ts`, in process: read-only. */
export declare function verify(options?: VerifyApiOptions): Promise<ApiResult>;
