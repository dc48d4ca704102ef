// The Docker Compose command line: which CLI is installed (`docker compose`, else
// `docker-compose`), what it can do, and running it with an argument array. Secrets never go
// into argv: compose reads its own .env in the project directory, and children inherit
// upkit's environment for interpolation.
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { shellQuote } from '../quote.ts';

const run = promisify(execFile);

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
    try {
      const { stdout } = await run(command, [...baseArgs, 'version', '--short'], { timeout: 10_000 });
      return { command, baseArgs, version: stdout.trim() };
    } catch {
      // try the next form
    }
  }
  return undefined;
}

export function composeArgs(cli: ComposeCli, composeFile: string, args: string[]): string[] {
  return [...cli.baseArgs, '--project-directory', path.dirname(composeFile), '-f', composeFile, ...args];
}

/** Runs a program inside a running service, without a TTY so that binary output is safe. */
export async function execInService(
  cli: ComposeCli,
  composeFile: string,
  service: string,
  argv: string[],
  timeoutMs = 15_000,
): Promise<string> {
  const { stdout } = await run(cli.command, composeArgs(cli, composeFile, ['exec', '-T', service, ...argv]), {
    timeout: timeoutMs,
  });
  return stdout;
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

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed because timeoutMs ran out. */
  timedOut: boolean;
}

export interface ProcessOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Each line of stderr and stdout as it arrives (build progress). */
  onLine?: (line: string) => void;
}

const KEEP_STDERR = 64 * 1024;
const KEEP_STDOUT = 32 * 1024 * 1024;
const KILL_GRACE_MS = 5000;

/**
 * Runs a program with an argument array and no shell, and resolves with its exit status
 * whatever it is (callers decide what a failure means). Rejects only when it cannot start
 * (ENOENT) or when `signal` aborts it, after the child has ended.
 */
export function runProcess(command: string, args: string[], options: ProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(options.signal.reason);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let partial = '';
    const lines = (chunk: string) => {
      if (!options.onLine) return;
      const parts = (partial + chunk).split(/\r?\n|\r/);
      partial = parts.pop() ?? '';
      for (const l of parts) if (l.trim()) options.onLine(l);
    };
    child.stdout.on('data', (d: Buffer) => {
      const s = d.toString();
      if (stdout.length < KEEP_STDOUT) stdout += s;
      lines(s);
    });
    child.stderr.on('data', (d: Buffer) => {
      const s = d.toString();
      stderr = (stderr + s).slice(-KEEP_STDERR);
      lines(s);
    });
    // SIGTERM first so compose can stop its own children; SIGKILL if it does not end.
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutMs);
    options.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', stop);
      if (partial.trim()) options.onLine?.(partial);
      if (options.signal?.aborted) return reject(options.signal.reason);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

export function runCompose(
  cli: ComposeCli,
  composeFile: string,
  args: string[],
  options: ProcessOptions = {},
): Promise<ProcessResult> {
  return runProcess(cli.command, composeArgs(cli, composeFile, args), options);
}

/** The last non-empty lines of a program's output, for an error's details. */
export function lastLines(text: string, n: number): string[] {
  return text
    .split(/\r?\n|\r/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim())
    .slice(-n);
}
