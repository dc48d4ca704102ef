// Starting the new containers and waiting until they are running, and healthy where they
// have a health check: `up -d --force-recreate --wait` where the CLI has it (Compose 2.1+),
// else `up -d --force-recreate` and polling `ps`. Either way within one overall timeout.
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration, type Logger, type StepControl } from '../log.ts';
import { lastLines, rejectsWaitFlag, runCompose, supportsWait, type ComposeCli, type ProcessResult } from './cli.ts';
import { hopeless, judge, parsePs, PsParseError, type ComposeContainer } from './ps.ts';

export interface WaitOptions {
  timeoutMs: number;
  /** Between two `ps` when polling. */
  pollIntervalMs: number;
  signal?: AbortSignal;
}

export interface WaitOutcome {
  method: 'wait' | 'poll';
  /** Why `up` (or the polling) did not succeed; undefined when it did. */
  problem: string | undefined;
}

function upProblem(r: ProcessResult, args: string, timeoutMs: number): string | undefined {
  if (r.timedOut) return `${args} did not finish within ${formatDuration(timeoutMs)} (COMPOSE_TIMEOUT)`;
  if (r.code === 0) return undefined;
  const why = lastLines(`${r.stdout}\n${r.stderr}`, 1)[0];
  return `${args} exited with ${r.code === null ? `signal ${r.signal}` : `code ${r.code}`}${why ? `: ${why}` : ''}`;
}

export async function listContainers(
  cli: ComposeCli,
  composeFile: string,
  signal?: AbortSignal,
): Promise<ComposeContainer[]> {
  const r = await runCompose(cli, composeFile, ['ps', '--all', '--format', 'json'], { signal, timeoutMs: 30_000 });
  if (r.code !== 0) throw new PsParseError(`ps exited with code ${r.code}: ${lastLines(r.stderr, 1)[0] ?? ''}`);
  return parsePs(r.stdout);
}

export async function startAndWait(
  cli: ComposeCli,
  composeFile: string,
  services: readonly string[],
  log: Logger,
  step: StepControl,
  options: WaitOptions,
): Promise<WaitOutcome> {
  const { signal, timeoutMs } = options;
  const started = performance.now();
  const remaining = () => Math.max(0, timeoutMs - (performance.now() - started));
  const onLine = (line: string) => {
    log.debug(`compose: ${line}`);
    step.progress(line.trim().slice(0, 100));
  };
  if (supportsWait(cli) !== false) {
    const r = await runCompose(cli, composeFile, ['up', '-d', '--force-recreate', '--wait'], {
      signal,
      timeoutMs,
      onLine,
    });
    if (r.code === 0 || r.timedOut || !rejectsWaitFlag(`${r.stdout}\n${r.stderr}`)) {
      return { method: 'wait', problem: upProblem(r, 'up --wait', timeoutMs) };
    }
    log.debug(`compose ${cli.version} has no up --wait: starting without it and polling ps`);
  }
  const r = await runCompose(cli, composeFile, ['up', '-d', '--force-recreate'], {
    signal,
    timeoutMs: Math.max(1, remaining()),
    onLine,
  });
  const problem = upProblem(r, 'up', timeoutMs);
  if (problem) return { method: 'poll', problem };
  return { method: 'poll', problem: await poll(cli, composeFile, services, step, remaining, options) };
}

/**
 * Until every service is ready on two polls in a row (a container in a restart loop can be
 * caught `running` once), one is beyond hope, or time is up.
 */
async function poll(
  cli: ComposeCli,
  composeFile: string,
  services: readonly string[],
  step: StepControl,
  remaining: () => number,
  options: WaitOptions,
): Promise<string | undefined> {
  let readyInARow = 0;
  for (;;) {
    const verdicts = judge(services, await listContainers(cli, composeFile, options.signal), false);
    const waiting = verdicts.filter((v) => !v.ready);
    if (waiting.length === 0) {
      readyInARow += 1;
      if (readyInARow >= 2) return undefined;
    } else {
      readyInARow = 0;
      if (hopeless(verdicts).length > 0) return undefined;
      step.progress(`waiting for ${waiting.map((v) => `${v.service} (${v.why})`).join(', ')}`);
    }
    if (remaining() <= 0)
      return waiting.length ? `not ready within ${formatDuration(options.timeoutMs)} (COMPOSE_TIMEOUT)` : undefined;
    await sleep(Math.min(options.pollIntervalMs, remaining()), undefined, { signal: options.signal }).catch(() => {
      throw options.signal?.reason;
    });
  }
}
