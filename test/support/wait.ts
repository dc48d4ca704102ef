// Waiting in tests for a state to be reached (a partial file, a session waiting on a lock,
// a server accepting connections): poll until it is there, never sleep for a time. The
// timeout only bounds a test that would otherwise hang; nothing asserts on time.
import type pg from 'pg';

export interface WaitOptions {
  /** What is waited for, in the error when it never comes. */
  what?: string;
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Poll interval (default 10 ms). */
  everyMs?: number;
  /**
   * Something whose end means the state can no longer come (the run being watched): the wait
   * fails as soon as one of these settles, saying so (with the run's exit code and stderr
   * when it is a run result).
   */
  ends?: Promise<unknown> | ReadonlyArray<Promise<unknown>>;
}

function endedBefore(what: string, value: unknown): Error {
  const run = value as { code?: unknown; stderr?: unknown } | undefined;
  return run && typeof run === 'object' && 'code' in run
    ? new Error(`the run ended (exit ${String(run.code)}) before ${what}\n${String(run.stderr ?? '')}`)
    : new Error(`the run ended before ${what}`);
}

/**
 * Polls `probe` until it returns a value other than undefined, and returns that value.
 * Fails when `ends` settles first, or after timeoutMs.
 */
export async function untilFound<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  options: WaitOptions = {},
): Promise<T> {
  const what = options.what ?? 'the awaited state';
  const timeoutMs = options.timeoutMs ?? 30_000;
  const ends = options.ends === undefined ? [] : Array.isArray(options.ends) ? options.ends : [options.ends];
  let ended: { value: unknown } | undefined;
  if (ends.length) {
    void Promise.race(ends).then(
      (value) => (ended = { value }),
      (err: unknown) => (ended = { value: err }),
    );
  }
  const t0 = Date.now();
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (ended) throw endedBefore(what, ended.value);
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.everyMs ?? 10));
  }
}

/** Polls `check` until it holds; resolves with how long that took (for reports, never for assertions). */
export async function until(check: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<number> {
  const t0 = Date.now();
  await untilFound(async () => ((await check()) ? true : undefined), options);
  return Date.now() - t0;
}

/**
 * The pid of an upkit session on the client's database (application_name like
 * `application`) that waits on a lock while running a statement matching `query`;
 * undefined while there is none. Other test files run upkit against their own databases
 * on the same server meanwhile.
 */
export async function lockWaiter(
  client: Pick<pg.Client, 'query'>,
  query: RegExp,
  application = 'upkit % migrations',
): Promise<number | undefined> {
  const { rows } = await client.query<{ pid: number; query: string }>(
    `select pid, query from pg_stat_activity
      where datname = current_database() and application_name like $1 and wait_event_type = 'Lock'`,
    [application],
  );
  return rows.find((r) => query.test(r.query))?.pid;
}

/**
 * Sends `signal` to `pid` and waits until the kernel has delivered it (Linux: no longer pending
 * in /proc/PID/status). Two signals of one kind sent before the first is delivered arrive as one;
 * a test of "the second Ctrl-C" sends the second only after this.
 */
export async function sendDelivered(pid: number, signal: NodeJS.Signals): Promise<void> {
  const { constants } = await import('node:os');
  const { readFileSync } = await import('node:fs');
  const bit = 1n << BigInt(constants.signals[signal] - 1);
  const pending = (): boolean => {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      return false; // the process has ended: nothing is pending any more
    }
    return [...status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)].some((m) => (BigInt(`0x${m[1]}`) & bit) !== 0n);
  };
  process.kill(pid, signal);
  await until(() => !pending(), { what: `${signal} delivered to ${pid}`, everyMs: 1 });
}
