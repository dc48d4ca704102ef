// Stopping a run at a chosen moment: the test waits until upkit is where the case says (a
// session waiting on a lock, a file, a log line, an HTTP request), then sends the signal.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { RunOptions } from '../support/cli.ts';
import { lockWaiter, until as waitUntil } from '../support/wait.ts';
import { runCase, tempDir, type CaseRun } from './check.ts';
import type { Vars } from './match.ts';
import type { FailureCase } from './types.ts';

/** The shared poll (test/support/wait.ts) in the argument order the cases use. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  await waitUntil(check, { what, timeoutMs });
}

/** An upkit session (by application_name) on the client's database waits on a lock while running a
 * statement matching `query`. Other test files run upkit against their own databases meanwhile. */
export function waitingOn(client: pg.Client, query: RegExp): () => Promise<boolean> {
  return async () => (await lockWaiter(client, query, 'upkit %')) !== undefined;
}

/** A log file of the run (in logDir) has a line matching `line`. */
export function logged(logDir: string, line: RegExp): () => boolean {
  return () =>
    existsSync(logDir) && readdirSync(logDir).some((f) => line.test(readFileSync(path.join(logDir, f), 'utf8')));
}

export interface Interrupted extends CaseRun {
  logDir: string;
}

/** Runs the case and sends `signal` once `ready` says upkit is where the case needs it. */
export async function interruptCase(
  c: FailureCase,
  vars: Vars,
  ready: (logDir: string) => () => boolean | Promise<boolean>,
  options: RunOptions & { extraEnv?: Record<string, string | undefined>; signal?: NodeJS.Signals } = {},
): Promise<Interrupted> {
  const logDir = tempDir('upkit-case-logs-');
  let pid = 0;
  const running = runCase(c, vars, {
    ...options,
    extraEnv: { ...options.extraEnv, UPKIT_LOG_DIR: logDir },
    onSpawn: (p) => (pid = p),
  });
  let finished = false;
  void running.then(() => (finished = true));
  const check = ready(logDir);
  await until(async () => finished || (await check()), `${c.id} to reach its moment`);
  if (finished)
    throw new Error(`${c.id}: the run ended before it reached the moment to interrupt:\n${(await running).stderr}`);
  process.kill(pid, options.signal ?? 'SIGINT');
  const r = await running;
  return { ...r, logDir };
}
