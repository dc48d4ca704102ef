// One error type for everything upkit reports to a person, and the one place where an
// error becomes an exit code (DESIGN.md "Operator contract").

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  refused: 3,
  verification: 4,
  locked: 5,
  health: 6,
  interrupted: 130,
} as const;

export type ExitKind = keyof typeof EXIT;

export interface UpkitErrorInit {
  /** Stable, machine-readable code, e.g. `config.invalid`; used in findings and tests. */
  code: string;
  /** Which exit code this error ends the process with. */
  exit: ExitKind;
  /** One line: what went wrong. Never holds a secret (it is redacted again on output). */
  message: string;
  /** The next thing to do, phrased as a command where there is one. */
  hint?: string;
  /** Extra lines shown under the message (each configuration problem, an SQL excerpt). */
  details?: readonly string[];
  cause?: unknown;
}

export class UpkitError extends Error {
  readonly code: string;
  readonly exit: ExitKind;
  readonly hint: string | undefined;
  readonly details: readonly string[];

  constructor(init: UpkitErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'UpkitError';
    this.code = init.code;
    this.exit = init.exit;
    this.hint = init.hint;
    this.details = init.details ?? [];
  }

  get exitCode(): number {
    return EXIT[this.exit];
  }
}

export function isUpkitError(err: unknown): err is UpkitError {
  return err instanceof UpkitError;
}

/**
 * The exit code for anything thrown out of a command. Errors upkit did not anticipate are
 * failures (1): the caller may already have changed something, so we never claim otherwise.
 */
export function exitCodeFor(err: unknown): number {
  if (isUpkitError(err)) return err.exitCode;
  return EXIT.failed;
}

export function usageError(message: string, hint?: string, details?: readonly string[]): UpkitError {
  return new UpkitError({ code: 'usage', exit: 'usage', message, hint, details });
}
