// When containers are not what they should be: the last log lines of each failing service,
// and one error (exit 6) naming each service and its state, whose hint is the next command.
import { UpkitError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { redact } from '../redact.ts';
import { composeCommandLine, lastLines, runCompose, type ComposeCli } from './cli.ts';

export const LOG_LINES = 50;

export interface ServiceFailure {
  service: string;
  /** `api`, or `api (pulse-api-2)` when the service has several containers. */
  label: string;
  /** e.g. `restarting (last exit code 1)`, `running but unhealthy`, `runs an old image: …`. */
  why: string;
  /** The service's last log lines, redacted; empty when there were none or they could not be read. */
  logs: string[];
}

/** Carries each failing service and its logs, for callers that report them elsewhere. */
export class ContainersError extends UpkitError {
  readonly failures: readonly ServiceFailure[];

  constructor(init: ConstructorParameters<typeof UpkitError>[0], failures: readonly ServiceFailure[]) {
    super(init);
    this.failures = failures;
  }
}

/** `api is restarting`, `api exited with code 1`, `api has no container`, `api runs …`. */
export function sentence(label: string, why: string): string {
  return /^(exited|has|runs|its|is) /.test(why) ? `${label} ${why}` : `${label} is ${why}`;
}

export async function serviceLogs(
  cli: ComposeCli,
  composeFile: string,
  service: string,
  signal?: AbortSignal,
): Promise<string[]> {
  try {
    const r = await runCompose(cli, composeFile, ['logs', '--no-color', '--tail', String(LOG_LINES), service], {
      signal,
      timeoutMs: 30_000,
    });
    return lastLines(`${r.stdout}\n${r.stderr}`, LOG_LINES).map(redact);
  } catch (err) {
    if (signal?.aborted) throw err;
    return [];
  }
}

export function containersError(
  cli: ComposeCli,
  composeFile: string,
  failures: readonly ServiceFailure[],
  upProblem: string | undefined,
): ContainersError {
  const cmd = composeCommandLine(cli, composeFile);
  const first = failures[0];
  if (!first) {
    return new ContainersError(
      {
        code: 'compose.up',
        exit: 'health',
        message: upProblem ?? 'docker compose up failed',
        hint: `run: ${cmd} up -d --force-recreate to see why`,
      },
      [],
    );
  }
  const stale = failures.every((f) => f.why.startsWith('runs '));
  const message =
    failures.length === 1
      ? `service ${sentence(first.label, first.why)}`
      : `${failures.length} services are not ready: ${failures.map((f) => sentence(f.label, f.why)).join('; ')}`;
  const details = failures.map((f) => `${sentence(f.label, f.why)}: ${cmd} logs ${f.service}`);
  if (upProblem) details.push(upProblem);
  return new ContainersError(
    {
      code: stale ? 'compose.stale_image' : 'compose.unhealthy',
      exit: 'health',
      message,
      details: failures.length > 1 || upProblem ? details : [],
      hint: stale
        ? `run: ${cmd} up -d --force-recreate ${first.service}, then check it with: ${cmd} ps`
        : `run: ${cmd} logs ${first.service}`,
    },
    failures,
  );
}

/** Each failing service's last lines, through the logger (which redacts again). */
export function printLogs(log: Logger, failures: readonly ServiceFailure[]): void {
  for (const f of failures) {
    if (f.why.startsWith('runs ')) continue;
    if (f.logs.length === 0) {
      log.warn(`service ${f.label}: no log lines`);
      continue;
    }
    log.warn(`service ${f.label}: last ${f.logs.length} log line${f.logs.length === 1 ? '' : 's'}`);
    log.info(f.logs.map((l) => `    ${l}`).join('\n'));
  }
}
