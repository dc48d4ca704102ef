// The one way upkit runs a program (pg_dump, pg_restore, docker compose, docker): an
// argument array and no shell; stdout collected, written to a file or ignored; stdin from a
// file; stderr kept as a bounded tail for the error message; each output line handed to the
// caller as it arrives; the exit code or signal; stopped (SIGTERM, then SIGKILL after a grace
// period) on abort, on timeout, and when upkit itself exits (lib/children.ts). A password
// never travels in argv: it goes by the environment (PGPASSWORD, `-e NAME` for compose) or a
// pass file, and an argument that carries one is refused before anything starts.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { trackChild } from './children.ts';
import { UpkitError } from './errors.ts';

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the program wrote to stdout, when it was collected (up to stdoutMaxBytes). */
  stdout: string;
  /** The last stderrTailBytes of stderr, starting at a line. */
  stderr: string;
  /** Killed because timeoutMs ran out. */
  timedOut: boolean;
  /** Stopped because `signal` aborted (only when abort is 'settle'). */
  aborted: boolean;
}

export interface ProcessOptions {
  /** The child's environment: process.env unless given. */
  env?: NodeJS.ProcessEnv;
  /** A file streamed to the child's stdin (closed at its end); no stdin otherwise. */
  stdinFile?: string;
  /**
   * 'collect' (the default) into the result, 'ignore', or a file (created private to this user; a write error stops the
   * program and ends its stderr).
   */
  stdout?: 'collect' | 'ignore' | { file: string };
  signal?: AbortSignal;
  /**
   * What an abort does once the child has ended: 'reject' (the default) with the signal's
   * reason, or 'settle' with the result (aborted: true), for callers that clean up first.
   */
  abort?: 'reject' | 'settle';
  timeoutMs?: number;
  /** After SIGTERM, how long before SIGKILL. */
  killGraceMs?: number;
  /** Each non-blank line of stderr (and of stdout when collected), as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  stderrTailBytes?: number;
  stdoutMaxBytes?: number;
}

const STDERR_TAIL_BYTES = 64 * 1024;
const STDOUT_MAX_BYTES = 32 * 1024 * 1024;
const KILL_GRACE_MS = 5000;

// A password where it stands as one: in a URL (`scheme://user:password@`), a conninfo
// keyword (`password=`), or a variable assignment (`PGPASSWORD=…`, `-e POSTGRES_PASSWORD=…`).
const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:[^\s@]+@/i;
const PASSWORD_ASSIGNMENT = /(?:^|[\s;&?])(?:[A-Z_]*PASSWORD|password)\s*=\s*\S/i;

/** Whether an argument carries a password (upkit passes those by environment or pass file). */
export function carriesSecret(arg: string): boolean {
  return URL_PASSWORD.test(arg) || PASSWORD_ASSIGNMENT.test(arg);
}

function refuseSecretArgs(command: string, args: readonly string[]): void {
  const at = args.findIndex(carriesSecret);
  if (at === -1) return;
  throw new UpkitError({
    code: 'internal.secret_in_argv',
    exit: 'failed',
    message:
      `upkit refused to start ${command}: its argument ${at + 1} ` +
      `carries a password, which other users of this machine could read`,
    hint:
      'set the password in DATABASE_URL or a pass file (PGPASSFILE) instead of an argument; ' +
      `${command} was not started`,
  });
}

/** Keeps the last `max` bytes of a stream's text, cut at a line start. */
function tailKeeper(max: number) {
  let text = '';
  return {
    add(chunk: string) {
      text += chunk;
      if (text.length > max * 2) text = cut(text, max);
    },
    text: () => cut(text, max),
  };
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const rest = text.slice(-max);
  const nl = rest.indexOf('\n');
  return nl === -1 ? rest : rest.slice(nl + 1);
}

/** Splits a stream into lines for onLine; the last, unfinished line waits for more. */
function lineSplitter(emit: (line: string) => void) {
  let partial = '';
  return {
    add(chunk: string) {
      const parts = (partial + chunk).split(/\r?\n|\r/);
      partial = parts.pop() ?? '';
      for (const l of parts) if (l.trim()) emit(l);
    },
    end() {
      if (partial.trim()) emit(partial);
      partial = '';
    },
  };
}

/**
 * Runs a program and resolves with its exit status whatever it is (callers decide what a
 * failure means). Rejects when an argument carries a password (nothing starts), when it
 * cannot start (ENOENT), when its stdin file cannot be read, and, unless abort is
 * 'settle', when `signal` aborts it, after the child has ended.
 */
export function runProcess(command: string, args: string[], options: ProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    refuseSecretArgs(command, args);
    const settleAbort = options.abort === 'settle';
    if (options.signal?.aborted && !settleAbort) return reject(options.signal.reason);
    const stdoutMode = options.stdout ?? 'collect';
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: [options.stdinFile ? 'pipe' : 'ignore', stdoutMode === 'ignore' ? 'ignore' : 'pipe', 'pipe'],
    });
    const untrack = trackChild(child);
    const stderr = tailKeeper(options.stderrTailBytes ?? STDERR_TAIL_BYTES);
    const stdoutMax = options.stdoutMaxBytes ?? STDOUT_MAX_BYTES;
    let stdout = '';
    let timedOut = false;
    let failed: Error | undefined;
    const onLine = options.onLine;
    const errLines = lineSplitter((l) => onLine?.(l, 'stderr'));
    const outLines = lineSplitter((l) => onLine?.(l, 'stdout'));
    let outFile: ReturnType<typeof createWriteStream> | undefined;
    if (typeof stdoutMode === 'object') {
      outFile = createWriteStream(stdoutMode.file, { mode: 0o600 });
      // The file cannot be written (a full disk): the program is stopped and the reason is
      // the last line of its stderr, where callers look for why it failed.
      outFile.on('error', (err) => {
        stderr.add(`\n${err.message}\n`);
        stop();
      });
      child.stdout!.pipe(outFile);
    } else if (stdoutMode === 'collect') {
      child.stdout!.on('data', (d: Buffer) => {
        const s = d.toString();
        if (stdout.length < stdoutMax) stdout += s;
        if (onLine) outLines.add(s);
      });
    }
    child.stderr!.on('data', (d: Buffer) => {
      const s = d.toString();
      stderr.add(s);
      if (onLine) errLines.add(s);
    });
    if (options.stdinFile && child.stdin) {
      // A program that stops early closes its stdin; its exit status says why.
      child.stdin.on('error', () => {});
      const input = createReadStream(options.stdinFile);
      input.on('error', (err) => {
        failed ??= err;
        stop();
      });
      input.pipe(child.stdin);
    }
    // SIGTERM first so that the program (compose, pg_restore) can stop its own children;
    // SIGKILL if it has not ended after the grace period.
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (killTimer || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), options.killGraceMs ?? KILL_GRACE_MS);
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutMs);
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
    const finish = () => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', stop);
      untrack();
    };
    child.on('error', (err) => {
      finish();
      reject(err);
    });
    child.on('close', (code, signal) => {
      finish();
      errLines.end();
      outLines.end();
      const done = () => {
        if (failed) return reject(failed);
        const aborted = options.signal?.aborted === true;
        if (aborted && !settleAbort) return reject(options.signal!.reason);
        resolve({ code, signal, stdout, stderr: stderr.text(), timedOut, aborted });
      };
      // The file holds every byte before the result says the program is done.
      if (outFile) outFile.end(() => done());
      else done();
    });
  });
}

/** The last non-empty lines of a program's output, for an error's details. */
export function lastLines(text: string, n: number): string[] {
  return text
    .split(/\r?\n|\r/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim())
    .slice(-n);
}
