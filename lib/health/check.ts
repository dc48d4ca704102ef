// Is the platform up after an install or upgrade? Every HEALTHCHECK_URLS endpoint is polled
// with growing waits (250 ms doubling to 5 s) until it answers 2xx or HEALTH_TIMEOUT runs
// out, and the database is checked to be at the expected release. Three states, reported
// separately: started (answers HTTP at all), healthy (2xx), migrated (the database).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config.ts';
import { UpkitError } from '../errors.ts';
import { formatDuration, type Logger } from '../log.ts';
import type { Finding } from '../report.ts';
import { defaultDatabaseCheck, type DatabaseCheck, type MigrationState } from './database.ts';
import type { Profile } from '../profileTypes.ts';
import { describeAttempt, endpoint, probe, type Attempt } from './probe.ts';
import { healthTimeoutMs } from './settings.ts';
import { shellQuote } from '../quote.ts';
import { plural } from '../plural.ts';

/**
 * Every request waits this long for its answer (HEALTH_TIMEOUT when that is shorter), the
 * last one too: a request started before the deadline may end up to this much after it.
 */
export const REQUEST_TIMEOUT_MS = 5000;
export const BACKOFF = { initialMs: 250, maxMs: 5000 } as const;

export interface EndpointHealth {
  /** As shown: no credentials, `?…` for a query string. */
  url: string;
  started: boolean;
  healthy: boolean;
  attempts: number;
  /** The last HTTP answer; the last failure to get one when there never was an answer. */
  last: Attempt | null;
  /** When it first answered 2xx, in ms from the start; null if it never did. */
  healthyAfterMs: number | null;
}

export interface DatabaseHealth extends MigrationState {
  attempts: number;
}

export interface HealthResult {
  ok: boolean;
  /** False when HEALTHCHECK_URLS is empty: endpoints were not checked. */
  configured: boolean;
  endpoints: EndpointHealth[];
  /** Null when the caller turned the database check off. */
  database: DatabaseHealth | null;
  timeoutMs: number;
  durationMs: number;
}

export interface HealthOptions {
  /** Whose release the database must be at: needed for the default database check. */
  profile?: Profile;
  /** The release the database must be at; default: the profile's latest. */
  expectedRelease?: string;
  /** Decides "migrated"; default: defaultDatabaseCheck(config, profile). false: not checked. */
  checkDatabase?: DatabaseCheck | false;
  /** Overall; default HEALTH_TIMEOUT (ms), else 120000. */
  timeoutMs?: number;
  signal?: AbortSignal;
  backoff?: { initialMs: number; maxMs: number };
}

export type HealthConfig = Pick<
  Config,
  'healthcheckUrls' | 'composeFile' | 'envFile' | 'db' | 'ssl' | 'sslCa' | 'connectTimeoutMs' | 'drizzleDir'
>;

/** What each request waits for its answer, in whole milliseconds (AbortSignal.timeout's unit). */
export function requestTimeoutMs(healthTimeoutMs: number): number {
  return Math.ceil(Math.max(100, Math.min(REQUEST_TIMEOUT_MS, healthTimeoutMs)));
}

interface Polled<T> {
  last: T;
  attempts: number;
  okAfterMs: number | null;
}

/** At least one attempt; then again after each wait, until good or the deadline. */
async function pollUntil<T>(
  attempt: (timeoutMs: number) => Promise<T>,
  good: (t: T) => boolean,
  started: number,
  timeoutMs: number,
  backoff: { initialMs: number; maxMs: number },
  signal?: AbortSignal,
): Promise<Polled<T>> {
  const left = () => timeoutMs - (performance.now() - started);
  let wait = backoff.initialMs;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    // The same for every attempt: never cut short by the time left.
    const last = await attempt(requestTimeoutMs(timeoutMs));
    if (good(last)) return { last, attempts, okAfterMs: Math.round(performance.now() - started) };
    if (left() <= 0) return { last, attempts, okAfterMs: null };
    await sleep(Math.min(wait, left()), undefined, { signal }).catch(() => {
      throw signal?.reason;
    });
    wait = Math.min(wait * 2, backoff.maxMs);
  }
}

const is2xx = (a: Attempt) => a.status !== undefined && a.status >= 200 && a.status < 300;

async function pollEndpoint(
  raw: string,
  started: number,
  timeoutMs: number,
  backoff: { initialMs: number; maxMs: number },
  signal: AbortSignal | undefined,
  onDone: () => void,
): Promise<EndpointHealth> {
  const ep = endpoint(raw);
  // The last HTTP answer is what a person needs, even when a timeout came after it.
  let lastAnswer: Attempt | null = null;
  const p = await pollUntil(
    async (t) => {
      const a = await probe(ep, t, signal);
      if (a.status !== undefined) lastAnswer = a;
      return a;
    },
    is2xx,
    started,
    timeoutMs,
    backoff,
    signal,
  );
  onDone();
  return {
    url: ep.shown,
    started: lastAnswer !== null,
    healthy: p.okAfterMs !== null,
    attempts: p.attempts,
    last: lastAnswer ?? p.last,
    healthyAfterMs: p.okAfterMs,
  };
}

export function endpointLine(e: EndpointHealth): string {
  const state = e.healthy ? 'started, healthy' : e.started ? 'started, not healthy' : 'not started';
  const times = `${e.attempts} attempt${e.attempts === 1 ? '' : 's'}`;
  if (e.healthy)
    return `${e.url}: ${state}: ${e.last?.status} after ${formatDuration(e.healthyAfterMs ?? 0)} (${times})`;
  return `${e.url}: ${state}: ${e.started ? 'last answer ' : ''}${describeAttempt(e.last)} (${times})`;
}

export function databaseLine(d: DatabaseHealth): string {
  return `database: ${d.migrated ? 'migrated' : 'not migrated'}: ${d.detail}`;
}

/** Carries the whole result, so a command can report every state before it exits 6. */
export class HealthError extends UpkitError {
  readonly result: HealthResult;

  constructor(result: HealthResult, composeFile: string | undefined) {
    const failing = result.endpoints.filter((e) => !e.healthy);
    const dbFailed = result.database !== null && !result.database.migrated;
    const redirect = /^(redirect loop|more than \d+ redirects|redirect to an invalid URL)/;
    const why = (e: EndpointHealth) =>
      e.last?.status !== undefined && e.last.error ? ` (${redirect.exec(e.last.error)?.[1] ?? 'bad answer'})` : '';
    const short = [
      ...failing.map((e) => `${e.url} ${e.started ? 'not healthy' : 'not started'}${why(e)}`),
      ...(dbFailed ? ['database not migrated'] : []),
    ];
    const endpointHint = composeFile
      ? `see why: docker compose -f ${shellQuote(composeFile)} logs --tail 100, then run: npx zx scripts/health.ts`
      : 'check that the platform is started and HEALTHCHECK_URLS points at it, then run: npx zx scripts/health.ts';
    super({
      code: failing.length ? 'health.failed' : 'health.not_migrated',
      exit: 'health',
      message: `health checks failed within ${formatDuration(result.timeoutMs)}: ${short.join(', ')}`,
      details: [...failing.map(endpointLine), ...(dbFailed ? [databaseLine(result.database!)] : [])],
      hint: failing.length
        ? endpointHint
        : 'see what is pending: npx zx scripts/status.ts, then run: npx zx upgrade.ts',
    });
    this.result = result;
  }
}

/** One finding per endpoint and one for the database, for the JSON report. */
export function healthFindings(result: HealthResult): Finding[] {
  const out: Finding[] = [];
  if (!result.configured)
    out.push({
      severity: 'info',
      code: 'health.not_configured',
      message: 'endpoints not checked: HEALTHCHECK_URLS is not set',
      hint: 'set HEALTHCHECK_URLS (comma-separated http(s) URLs) to have them polled',
    });
  for (const e of result.endpoints) {
    out.push({
      severity: e.healthy ? 'info' : 'error',
      code: 'health.endpoint',
      message: endpointLine(e),
      hint: e.healthy
        ? null
        : 'look at the service behind it (docker compose logs), then run: npx zx scripts/health.ts',
    });
  }
  const d = result.database;
  if (d)
    out.push({
      severity: d.migrated ? 'info' : 'error',
      code: 'health.migrated',
      message: databaseLine(d),
      hint: d.migrated ? null : 'see what is pending: npx zx scripts/status.ts',
    });
  return out;
}

function profileOf(options: HealthOptions): Profile {
  if (!options.profile) throw new Error('checkHealth: the default database check needs the profile (options.profile)');
  return options.profile;
}

/**
 * Polls every endpoint and the database until all are good or the time is up. Resolves with
 * the states when all are good; otherwise throws HealthError (exit 6), one line per failure.
 */
export async function checkHealth(
  config: HealthConfig,
  log: Logger,
  options: HealthOptions = {},
): Promise<HealthResult> {
  const timeoutMs = options.timeoutMs ?? healthTimeoutMs(config);
  const backoff = options.backoff ?? BACKOFF;
  const { signal } = options;
  const check =
    options.checkDatabase === false
      ? undefined
      : (options.checkDatabase ?? defaultDatabaseCheck(config, profileOf(options), options.expectedRelease));
  const started = performance.now();
  const result = await log.step('health checks', async (step) => {
    let done = 0;
    const total = config.healthcheckUrls.length;
    const polls = config.healthcheckUrls.map((raw) =>
      pollEndpoint(raw, started, timeoutMs, backoff, signal, () =>
        step.progress(`${++done} of ${plural(total, 'endpoint')} answered`),
      ),
    );
    const db = check
      ? pollUntil(
          () => check(signal),
          (s) => s.migrated,
          started,
          timeoutMs,
          backoff,
          signal,
        ).then((p): DatabaseHealth => ({ ...p.last, attempts: p.attempts }))
      : Promise.resolve(null);
    const [endpoints, database] = await Promise.all([Promise.all(polls), db]);
    const r: HealthResult = {
      ok: endpoints.every((e) => e.healthy) && (database?.migrated ?? true),
      configured: total > 0,
      endpoints,
      database,
      timeoutMs,
      durationMs: Math.round(performance.now() - started),
    };
    for (const e of endpoints) if (e.healthy) log.info(`  ${endpointLine(e)}`);
    if (database?.migrated) log.info(`  ${databaseLine(database)}`);
    if (!r.ok) throw new HealthError(r, config.composeFile);
    const healthy = endpoints.length
      ? `${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'} healthy`
      : 'HEALTHCHECK_URLS not set';
    step.detail([healthy, database ? 'database migrated' : ''].filter(Boolean).join(', '));
    return r;
  });
  return result;
}
