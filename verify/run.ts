// runVerification(): the verify command's engine. One connection, one `BEGIN TRANSACTION
// READ ONLY` holding every query (so nothing can be written, by construction, and every
// check sees the same moment), each area a timed step; endpoints and containers are checked
// meanwhile, concurrently, since they do not touch the database.
import type { Client } from 'pg';
import { VERSION } from '../lib/cli.ts';
import { describeTarget, type Config } from '../lib/config.ts';
import { withClient, withTransaction } from '../lib/db.ts';
import { isUpkitError, UpkitError } from '../lib/errors.ts';
import type { Logger, StepControl } from '../lib/log.ts';
import { chooseForServer, findBinaries } from '../lib/pgTools.ts';
import { plural } from '../lib/plural.ts';
import { registerSecret } from '../lib/redact.ts';
import type { ReportBuilder } from '../lib/report.ts';
import { checkLedgerArea, checkSchemaArea, comparedTables, checkSeedArea, loadVerifyFiles, readState, schemaHints, type LedgerResult, type VerifyFiles } from './engine.ts';
import { AREAS, type Area, type VerifyFinding } from './model.ts';
import { contentFor } from './profile.ts';
import { areaSummaries, counts, type AreaSummary, type Versions } from './render.ts';
import { describeRunInProgress, runInProgress, type RunInProgress } from './runInProgress.ts';
import { checkRuntime } from './runtime.ts';

export interface RunOptions {
  /** Collect what the Markdown block shows (pg_dump found); costs a few process starts. */
  versions?: boolean;
  snapshotEntry?: number | string;
}

export interface VerificationRun {
  findings: VerifyFinding[];
  areas: AreaSummary[];
  versions: Versions;
  hasErrors: boolean;
  /** Another upkit run holds the lock: what was found is its work in progress. */
  running?: RunInProgress;
}

/** A read that failed while another run changes the database (its locks): say that run is the reason. */
function runningError(running: RunInProgress, database: string, err: unknown): UpkitError {
  const { message, hint } = describeRunInProgress(running, database);
  const why = `: verification could not read the database meanwhile (${err instanceof Error ? err.message : String(err)})`;
  return new UpkitError({ code: 'verify.run_in_progress', exit: 'locked', message: message.replace(/: what verify lists .*$/, why), hint, cause: err });
}

/** Runs fn as a step whose mark follows its findings (StepControl.judge): ✖ errors, ⚠ warnings. */
async function areaStep<T>(log: Logger, name: Area, timings: Partial<Record<Area, number>>, fn: (s: StepControl) => Promise<{ value: T; findings: VerifyFinding[]; detail: string }>): Promise<T> {
  const started = performance.now();
  try {
    return await log.step(name, async (s) => {
      const r = await fn(s);
      const c = counts(r.findings);
      const tally = [c.error && plural(c.error, 'error'), c.warning && plural(c.warning, 'warning')].filter(Boolean).join(', ');
      s.judge(r.findings, `${r.detail}${tally ? `: ${tally}` : ''}`);
      return r.value;
    });
  } finally {
    timings[name] = performance.now() - started;
  }
}

/** Passwords inside HEALTHCHECK_URLS are secrets too, before anything is printed. */
export function registerUrlSecrets(urls: readonly string[]): void {
  for (const raw of urls) {
    try {
      const u = new URL(raw);
      registerSecret(u.password);
      registerSecret(decodeURIComponent(u.password));
    } catch {
      // not a URL: configuration already refused it
    }
  }
}

function readFailure(err: unknown): unknown {
  if (isUpkitError(err)) return err;
  const e = err as { message?: string; code?: string };
  return new UpkitError({
    code: 'verify.read',
    exit: 'refused',
    message: `verification could not read the database: ${e.message ?? String(err)}${e.code ? ` (SQLSTATE ${e.code})` : ''}; nothing was changed`,
    hint: 'run: npx zx scripts/preflight.ts to check the connection and privileges, then run verify again',
    cause: err,
  });
}

interface LockHolder { pid: number; usename: string | null; application_name: string | null; query: string | null; seconds: number; relation: string }

/** A read that waited 5 s for a lock: who holds the lock verify needed (read once the transaction has ended). */
async function lockFailure(client: Client, err: unknown): Promise<UpkitError> {
  const holders = await client
    .query<LockHolder>(
      `select l.pid, a.usename, a.application_name, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120) as query,
              floor(extract(epoch from now() - coalesce(a.xact_start, a.query_start)))::int as seconds, l.relation::regclass::text as relation
         from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'relation' and l.granted and l.mode = 'AccessExclusiveLock' and l.pid <> pg_backend_pid()
          and l.database = (select oid from pg_database where datname = current_database())
        order by a.xact_start nulls last, l.pid limit 3`,
    )
    .then((r) => r.rows)
    .catch(() => [] as LockHolder[]);
  const h = holders[0];
  if (!h) return readFailure(err) as UpkitError;
  const who = `server process ${h.pid} (user ${h.usename ?? 'unknown'}, application ${JSON.stringify(h.application_name ?? '')}, for ${h.seconds} s, last query: ${h.query ?? 'none'})`;
  return new UpkitError({
    code: 'verify.locked',
    exit: 'locked',
    message: `verification waited 5 s for a lock on ${h.relation} held by ${who}; the report is incomplete and nothing was changed`,
    hint: `wait for that transaction to end (SELECT pg_terminate_backend(${h.pid}); ends it and rolls its changes back), then run: npx zx verify/index.ts`,
    cause: err,
  });
}

async function checkDatabase(client: Client, files: VerifyFiles, profile: ReturnType<typeof contentFor>['profile'], log: Logger, timings: Partial<Record<Area, number>>) {
  // A lock held by a migration must not make verify hang; a statement that runs long is a bug.
  await client.query(`set local statement_timeout = '30s'; set local lock_timeout = '5s'`);
  const state = await readState(client, files, { profile });
  const schema = await areaStep(log, 'schema', timings, async () => {
    const findings = await checkSchemaArea(files, state);
    return { value: findings, findings, detail: `${plural(comparedTables(files, state), 'table')} against ${files.entry.tag}` };
  });
  const ledger: LedgerResult = await areaStep(log, 'ledgers', timings, async () => {
    const r = await checkLedgerArea(client, files, state, { profile });
    const pending = r.pending.length ? `, ${r.pending.length} pending` : '';
    return { value: r, findings: r.findings, detail: `${r.release.detected ?? 'no release'}; ${r.applied.length} of ${plural(files.entry.idx + 1, 'migration')} applied${pending}` };
  });
  let seed: VerifyFinding[] = [];
  if (profile) {
    seed = await areaStep(log, 'seed data', timings, async () => {
      const r = await checkSeedArea(client, state, profile);
      const detail = r.seed ? `${plural(r.seed.organizations, 'organization')}, ${plural(r.seed.permissions, 'permission')}` : 'not checked';
      return { value: r.findings, findings: r.findings, detail };
    });
  }
  return { state, findings: [...schemaHints(files, state, schema, ledger), ...ledger.findings, ...seed], release: ledger.release };
}

export async function runVerification(config: Config, log: Logger, report: ReportBuilder, options: RunOptions = {}): Promise<VerificationRun> {
  registerUrlSecrets(config.healthcheckUrls);
  const { profile, legacyDir } = contentFor(config);
  const files = loadVerifyFiles({ drizzleDir: config.drizzleDir, legacyDir, profile, snapshotEntry: options.snapshotEntry });
  const runtimeStarted = performance.now();
  const runtime = checkRuntime(config).then((r) => ({ ...r, ms: performance.now() - runtimeStarted }));
  const pgDumps = options.versions ? findBinaries('pg_dump', config.pgBinDir) : Promise.resolve([]);
  const timings: Partial<Record<Area, number>> = {};
  const skipped: Partial<Record<Area, string>> = {};
  // An app without seed data has no seed data area: nothing about seed data is claimed for it.
  const areas = AREAS.filter((a) => profile || a !== 'seed data');

  let running: RunInProgress | undefined;
  const db = await withClient(
    config.migrationDb,
    config,
    async (client) => {
      // Its own session's timeouts, as migrations set theirs, before the first read: a role's
      // or database's idle_in_transaction_session_timeout or statement_timeout must not end
      // verification half-way (it waits for nothing but its own reads).
      await client.query(`select set_config('idle_in_transaction_session_timeout', '0', false), set_config('statement_timeout', '30s', false), set_config('lock_timeout', '5s', false)`).catch((err: unknown) => Promise.reject(readFailure(err)));
      return withTransaction(
        client,
        async () => {
          running = await runInProgress(client);
          return checkDatabase(client, files, profile, log, timings);
        },
        { readOnly: true },
      ).catch(async (err: unknown) => {
        if (running && !isUpkitError(err)) throw runningError(running, config.migrationDb.database, err);
        if ((err as { code?: string }).code === '55P03') throw await lockFailure(client, err);
        throw readFailure(err);
      });
    },
    { applicationName: 'upkit verify' },
  );

  const rt = await areaStep(log, 'runtime', timings, async (s) => {
    const r = await runtime;
    const passed = r.findings.filter((f) => f.severity === 'info' && f.code !== 'runtime.not_configured').length;
    if (!r.checked) s.skip('HEALTHCHECK_URLS and COMPOSE_FILE are not set');
    return { value: r, findings: r.findings, detail: r.checked ? `${plural(passed, 'check')} passed` : 'HEALTHCHECK_URLS and COMPOSE_FILE are not set' };
  });
  if (rt.checked) timings.runtime = rt.ms;
  else {
    delete timings.runtime;
    skipped.runtime = 'HEALTHCHECK_URLS and COMPOSE_FILE are not set';
  }

  const findings = [...db.findings, ...rt.findings];
  for (const f of findings) report.finding(f.severity, f.code, f.message, f.hint ?? undefined);
  report.release = { from: db.release.detected, to: db.release.expected };

  const server = db.state.server;
  const pgDump = chooseForServer(await pgDumps, Math.floor(server.versionNum / 10000));
  const versions: Versions = {
    upkit: VERSION,
    node: process.version,
    server: server.version,
    release: db.release.detected,
    latest: db.release.expected,
    pgDump: pgDump ? `${pgDump.version} at ${pgDump.path} (found via ${pgDump.foundVia})` : options.versions ? `none found that can dump PostgreSQL ${server.version}` : null,
    database: describeTarget(config.migrationDb),
    snapshot: `${files.entry.tag} (${files.snapshotFile})`,
  };
  return { findings, areas: areaSummaries(timings, skipped, areas), versions, hasErrors: findings.some((f) => f.severity === 'error'), ...(running ? { running } : {}) };
}
