// The Docker Compose command line: which CLI is installed (`docker compose`, else
// `docker-compose`), what it can do, and running it with an argument array. Secrets never go
// into argv: compose reads its own .env in the project directory, and children inherit
// upkit's environment for interpolation.
import path from 'node:path';
import { lastLines, type ProcessOptions, type ProcessResult, runProcess } from '../process.ts';
import { shellQuote } from '../quote.ts';

export interface ComposeCli {
  command: string;
  baseArgs: string[];
  version: string;
}

export async function detectCompose(): Promise<ComposeCli | undefined> {
  const tries: Array<[string, string[]]> = [
    ['docker', ['compose']],
    ['docker-compose', []],
  ];
  for (const [command, baseArgs] of tries) {
    const r = await runProcess(command, [...baseArgs, 'version', '--short'], { timeoutMs: 10_000 }).catch(
      () => undefined,
    );
    // Not installed, or not this form: try the next one.
    if (r?.code === 0) return { command, baseArgs, version: r.stdout.trim() };
  }
  return undefined;
}

export function composeArgs(cli: ComposeCli, composeFile: string, args: string[]): string[] {
  return [...cli.baseArgs, '--project-directory', path.dirname(composeFile), '-f', composeFile, ...args];
}

/** The libpq settings a program run in a service takes from upkit's environment. */
const LIBPQ_NAMES = ['PGUSER', 'PGDATABASE', 'PGPASSWORD'];

/**
 * `exec -T SERVICE PROGRAM ARGS…` for pg_dump and pg_restore in a service: no TTY, so an
 * archive's bytes pass through unchanged, and the credentials travel as `-e NAME` (the value
 * taken from the environment the compose CLI is given), never as arguments.
 */
export function libpqExecArgs(cli: ComposeCli, composeFile: string, service: string, argv: string[]): string[] {
  return composeArgs(cli, composeFile, ['exec', '-T', ...LIBPQ_NAMES.flatMap((n) => ['-e', n]), service, ...argv]);
}

/** Runs a program inside a running service, without a TTY so that binary output is safe; its stdout, or an error. */
export async function execInService(
  cli: ComposeCli,
  composeFile: string,
  service: string,
  argv: string[],
  timeoutMs = 15_000,
): Promise<string> {
  const r = await runProcess(cli.command, composeArgs(cli, composeFile, ['exec', '-T', service, ...argv]), {
    timeoutMs,
  });
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${timeoutMs} ms` : `exit ${r.code ?? r.signal}`;
    throw new Error(`${argv[0]} in service ${service}: ${why}: ${lastLines(r.stderr, 1)[0] ?? 'no output'}`);
  }
  return r.stdout;
}

/** `2.29.7`, `v2.29.7`, `2.29.7-desktop.1` → [2, 29, 7]; undefined when it is not a version. */
export function parseComposeVersion(raw: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(raw.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/**
 * Whether `up --wait` exists: Compose v2.1 and later. Undefined when the version cannot be
 * read; the caller then tries it and falls back on the CLI's "unknown flag" answer.
 */
export function supportsWait(cli: Pick<ComposeCli, 'version'>): boolean | undefined {
  const v = parseComposeVersion(cli.version);
  if (!v) return undefined;
  return v[0] > 2 || (v[0] === 2 && v[1] >= 1);
}

/** How a CLI without `--wait` refuses it (cobra in Compose v2, docopt in v1). */
export function rejectsWaitFlag(output: string): boolean {
  return new RegExp(
    String.raw`unknown (?:flag|shorthand flag)[^\n]*--wait|no such ` +
      String.raw`option:?\s*--wait|flag provided but not defined:?\s*-+wait`,
    'i',
  ).test(output);
}

/** The command a person types, for hints: `docker compose -f FILE`. */
export function composeCommandLine(
  cli: Pick<ComposeCli, 'command' | 'baseArgs'> | undefined,
  composeFile: string,
): string {
  const head = cli ? [cli.command, ...cli.baseArgs].join(' ') : 'docker compose';
  return `${head} -f ${shellQuote(composeFile)}`;
}

export { lastLines, type ProcessOptions, type ProcessResult, runProcess } from '../process.ts';

export function runCompose(
  cli: ComposeCli,
  composeFile: string,
  args: string[],
  options: ProcessOptions = {},
): Promise<ProcessResult> {
  return runProcess(cli.command, composeArgs(cli, composeFile, args), options);
}
