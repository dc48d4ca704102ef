// runVerification(): the verify command's engine. One connection, one `BEGIN TRANSACTION
// READ ONLY` holding every query (so nothing can be written, by construction, and every
// check sees the same moment), each area a timed step; endpoints and containers are checked
// meanwhile, concurrently, since they do not touch the database.
import type { Client } from 'pg';
import { VERSION } from '../lib/version.ts';
import { describeTarget, type Config } from '../lib/config.ts';
import { withClient, withTransaction } from '../lib/db.ts';
import { isUpkitError, UpkitError } from '../lib/errors.ts';
import type { Logger, StepControl } from '../lib/log.ts';
import { chooseForServer, findBinaries } from '../lib/pgTools.ts';
import { plural } from '../lib/plural.ts';
import { maskSqlLiterals, registerSecret } from '../lib/redact.ts';
import type { ReportBuilder } from '../lib/report.ts';
import {
  checkLedgerArea,
  checkSchemaArea,
  comparedTables,
  checkSeedArea,
  loadVerifyFiles,
  readState,
  schemaHints,
  type DatabaseState,
  type LedgerResult,
  type Unread,
  type VerifyFiles,
  useExpected,
} from './engine.ts';
import { expectedSchemaFor } from './shadow.ts';
import { AREAS, finding, type Area, type VerifyFinding } from './model.ts';
import type { Profile } from '../lib/profileTypes.ts';
import { areaSummaries, counts, type AreaSummary, type Versions } from './render.ts';
import { describeRunInProgress, runInProgress, type RunInProgress } from './runInProgress.ts';
import { checkRuntime } from './runtime.ts';
import { SEED_COLUMNS } from './seed.ts';

export interface RunOptions {
  /** What the database is checked against (the commands choose it: profiles/). */
  profile: Profile;
  /** Collect what the Markdown block shows (pg_dump found); costs a few process starts. */
  versions?: boolean;
  snapshotEntry?: number | string;
  /** The command that runs verification again, as the hints print it. */
  again?: string;
  /** false (`--no-shadow`): never create a scratch database; a cached replay is still used. */
  shadow?: boolean;
  signal?: AbortSignal;
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
  const why =
    `: verification could not read the database meanwhile ` + `(${err instanceof Error ? err.message : String(err)})`;
  return new UpkitError({
    code: 'verify.run_in_progress',
    exit: 'locked',
    message: message.replace(/: what verify lists .*$/, why),
    hint,
    cause: err,
  });
}

/** Runs fn as a step whose mark follows its findings (StepControl.judge): ✖ errors, ⚠ warnings. */
async function areaStep<T>(
  log: Logger,
  name: Area,
  timings: Partial<Record<Area, number>>,
  fn: (s: StepControl) => Promise<{ value: T; findings: VerifyFinding[]; detail: string }>,
): Promise<T> {
  const started = performance.now();
  try {
    return await log.step(name, async (s) => {
      const r = await fn(s);
      // A lock that kept the area from being read is named, not counted among the problems found.
      const c = counts(r.findings.filter((f) => f.code !== 'verify.locked'));
      const tally = [c.error && plural(c.error, 'error'), c.warning && plural(c.warning, 'warning')]
        .filter(Boolean)
        .join(', ');
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
    message:
      `verification could not read the database: ${e.message ?? String(err)}` +
      `${e.code ? ` (SQLSTATE ${e.code})` : ''}; nothing was changed`,
    hint: 'run: npx zx scripts/preflight.ts to check the connection and privileges, then run verify again',
    cause: err,
  });
}

interface LockRow {
  pid: number;
  granted: boolean;
  relation: string;
  blockers: number[];
}
interface Session {
  pid: number;
  usename: string | null;
  application_name: string | null;
  query: string | null;
  seconds: number;
}

const LOCK_NOT_AVAILABLE = '55P03';
const AREA_SAVEPOINT = 'upkit_verify_area';

const describeSession = (s: Session | undefined, pid: number) =>
  s
    ? `server process ${s.pid} (user ${s.usename ?? 'unknown'}, ` +
      `application ${JSON.stringify(s.application_name ?? '')}, for ${s.seconds} s, last query: ${s.query ?? 'none'})`
    : `server process ${pid}`;

/**
 * Who keeps verify from reading `relations` (and their indexes, which planning a read locks
 * too): a session holding an exclusive lock on one, or queued for one (then also the
 * sessions it waits for). Read after the read timed out, from pg_locks; null relations: any
 * relation of this database.
 */
async function lockedBy(
  client: Client,
  relations: readonly string[] | null,
): Promise<{ relation: string; holders: number[]; queued: number[]; sessions: Map<number, Session> } | undefined> {
  const { rows } = await client.query<LockRow>(
    `with mine as (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace ` +
      `where $1::text[] is null or n.nspname || '.' || c.relname = any($1::text[])),
          rels as (select oid from mine union select indexrelid from pg_index where indrelid in (select oid from mine))
     select l.pid, l.granted, l.relation::regclass::text as relation, ` +
      `case when l.granted then '{}' else pg_blocking_pids(l.pid) end as blockers
       from pg_locks l
      where l.locktype = 'relation' and l.mode = 'AccessExclusiveLock' and l.pid <> pg_backend_pid()
        and l.database = (select oid from pg_database where datname ` +
      `= current_database()) and l.relation in (select oid from rels)
      order by l.granted desc, l.pid`,
    [relations],
  );
  const first = rows[0];
  if (!first) return undefined;
  const held = rows.filter((r) => r.granted && r.relation === first.relation).map((r) => r.pid);
  const queued = first.granted ? [] : rows.filter((r) => !r.granted && r.relation === first.relation).map((r) => r.pid);
  // A queued request goes first: verify waits for it, and it for the sessions that hold a lock on the table.
  const holders = first.granted
    ? held
    : [
        ...new Set(
          rows
            .filter((r) => !r.granted && r.relation === first.relation)
            .flatMap((r) => r.blockers)
            .filter((p) => !queued.includes(p)),
        ),
      ];
  const { rows: sessions } = await client.query<Session>(
    `select pid, usename, application_name, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) as query,
            floor(extract(epoch from now() - coalesce(xact_start, query_start)))::int as seconds
       from pg_stat_activity where pid = any($1::int[])`,
    [[...holders, ...queued]],
  );
  return {
    relation: first.relation,
    holders,
    queued,
    sessions: new Map(
      sessions.map((x) => [x.pid, { ...x, query: x.query === null ? null : maskSqlLiterals(x.query) }]),
    ),
  };
}

/**
 * The finding for an area a read of which waited lock_timeout for a lock: what could not be read, and who holds the
 * lock.
 */
async function lockedArea(
  client: Client,
  area: Area,
  relations: readonly string[] | null,
  again: string,
  label = `${area} not read`,
): Promise<VerifyFinding> {
  const by = await lockedBy(client, relations).catch(() => undefined);
  const rerun = `then run: ${again}`;
  if (!by || (by.holders.length === 0 && by.queued.length === 0)) {
    return finding(
      area,
      'error',
      'verify.locked',
      `${label}: verification waited 5 s for a lock on a table it reads, ` +
        `released before it could name the holder; the report is incomplete and nothing was changed`,
      `run: ${again}`,
    );
  }
  const names = (pids: number[]) => pids.map((p) => describeSession(by.sessions.get(p), p)).join(', ');
  const who = by.holders.length
    ? `held by ${names(by.holders)}` +
      `${by.queued.length ? `, with ${names(by.queued)} queued for an exclusive lock on it ahead of verify` : ''}`
    : `queued for by ${names(by.queued)} ahead of verify`;
  const pids = [...by.holders, ...by.queued];
  const message =
    `${label}: verification waited 5 s for a lock on ${by.relation} ${who}; ` +
    `the report is incomplete and nothing was changed`;
  // An upkit run (an upgrade applying its migrations) is never to be ended by hand: it is waited for.
  if (pids.some((p) => by.sessions.get(p)?.application_name?.startsWith('upkit '))) {
    return finding(
      area,
      'error',
      'verify.locked',
      message,
      `an upkit run is working on this database (npx zx scripts/status.ts shows it): wait for it to finish, ${rerun}`,
    );
  }
  const end = pids.map((p) => `SELECT pg_terminate_backend(${p});`).join(' ');
  return finding(
    area,
    'error',
    'verify.locked',
    message,
    `wait for ${pids.length === 1 ? 'that transaction' : 'those transactions'} to end (${end} ends ` +
      `${pids.length === 1 ? 'it and rolls its' : 'them and rolls their'} changes back), ${rerun}`,
  );
}

/**
 * Runs one area's reads under a savepoint: a read that waits lock_timeout for a lock rolls
 * back to it, so that the transaction goes on and the other areas are still read; the area
 * is then one verify.locked finding. Any other error ends verification as before.
 */
async function readArea<T>(
  client: Client,
  area: Area,
  relations: readonly string[] | null,
  again: string,
  fn: () => Promise<T>,
): Promise<{ value: T; locked?: undefined } | { locked: VerifyFinding }>;
async function readArea<T>(
  client: Client,
  area: Area,
  relations: readonly string[] | null,
  again: string,
  fn: () => Promise<T>,
  describe: false,
): Promise<{ value: T; locked?: undefined } | { locked: true; error: unknown }>;
async function readArea<T>(
  client: Client,
  area: Area,
  relations: readonly string[] | null,
  again: string,
  fn: () => Promise<T>,
  describe = true,
): Promise<{ value: T; locked?: undefined } | { locked: VerifyFinding | true; error?: unknown }> {
  await client.query(`savepoint ${AREA_SAVEPOINT}`);
  try {
    const value = await fn();
    await client.query(`release savepoint ${AREA_SAVEPOINT}`);
    return { value };
  } catch (err) {
    if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw err;
    await client.query(`rollback to savepoint ${AREA_SAVEPOINT}`);
    await client.query(`release savepoint ${AREA_SAVEPOINT}`);
    return describe ? { locked: await lockedArea(client, area, relations, again) } : { locked: true, error: err };
  }
}

/**
 * The release is detected from the catalog's public tables: with one of them not read, it is
 * not said (neither "the latest" nor "behind"); the ledger's own findings stand.
 */
function withoutRelease(r: LedgerResult, state: DatabaseState, profile: Profile): LedgerResult {
  if (!profile.releaseProbes || ![...(state.unread ?? [])].some((t) => t.startsWith('public.'))) return r;
  return {
    ...r,
    findings: r.findings.filter((f) => !f.code.startsWith('ledger.release')),
    release: { detected: null, expected: profile.latestRelease, evidence: [] },
  };
}

/** User tables another session holds (or waits for) an exclusive lock on, itself or one of its indexes. */
async function exclusivelyLocked(client: Client): Promise<Unread> {
  const { rows } = await client.query<{ oid: string; name: string }>(
    `select distinct c.oid::int8 as oid, n.nspname || '.' || c.relname as name
       from pg_locks l
       left join pg_index i on i.indexrelid = l.relation
       join pg_class c on c.oid = coalesce(i.indrelid, l.relation)
       join pg_namespace n on n.oid = c.relnamespace
      where l.locktype = 'relation' and l.mode = 'AccessExclusiveLock' and l.pid <> pg_backend_pid()
        and l.database = (select oid from pg_database where datname = current_database())
        and c.relkind in ('r', 'p') and n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'
      order by 2`,
  );
  return { oids: rows.map((r) => Number(r.oid)), names: new Set(rows.map((r) => r.name)) };
}

/** A read outside the areas (the catalog) that waited for a lock: who holds it, exit 5. */
async function lockFailure(client: Client, err: unknown, again: string): Promise<UpkitError> {
  const f = await lockedArea(client, 'schema', null, again);
  return new UpkitError({
    code: 'verify.locked',
    exit: 'locked',
    message: f.message.replace(/^schema not read: /, ''),
    hint: f.hint ?? undefined,
    cause: err,
  });
}

/** The step's line for an area not read: the finding without its closing words. */
const notReadDetail = (f: VerifyFinding) =>
  f.message.replace(/; the report is incomplete and nothing was changed$/, '');

const LEDGER_TABLES = (files: VerifyFiles) => [
  'drizzle.__drizzle_migrations',
  ...(files.legacy ? ['upkit.legacy_migrations'] : []),
];

async function checkDatabase(
  client: Client,
  files: VerifyFiles,
  profile: Profile,
  log: Logger,
  timings: Partial<Record<Area, number>>,
  again: string,
) {
  // A lock held by a migration must not make verify hang; a statement that runs long is a bug.
  await client.query(`set local statement_timeout = '30s'; set local lock_timeout = '5s'`);
  // The catalog: deparsing a table's checks, index expressions and predicates locks it, so a
  // table another session locks exclusively makes this read wait. It is then read again
  // without the tables locked so (named, not compared), and the schema area says so.
  let catalogLocked: VerifyFinding | undefined;
  const first = await readArea(client, 'schema', null, again, () => readState(client, files, { profile }), false);
  let state: DatabaseState;
  if (!first.locked) state = first.value;
  else {
    const unread = await exclusivelyLocked(client);
    if (!unread.oids.length) throw first.error;
    state = await readState(client, files, { profile }, unread);
    const names = [...unread.names];
    catalogLocked = await lockedArea(
      client,
      'schema',
      names,
      again,
      `schema not read for table${names.length === 1 ? '' : 's'} ${names.join(', ')}`,
    );
  }
  const schema = await areaStep(log, 'schema', timings, async () => {
    const findings = await checkSchemaArea(files, state);
    const all = catalogLocked ? [catalogLocked, ...findings] : findings;
    return {
      value: findings,
      findings: all,
      detail:
        `${plural(comparedTables(files, state), 'table')} against ${files.entry.tag}` +
        `${files.expectedFrom === 'replay' ? ' (its migrations replayed)' : ''}` +
        `${catalogLocked ? `; ${notReadDetail(catalogLocked)}` : ''}`,
    };
  });
  // Not read (locked): no ledger, so schema hints say what fixes a difference without it.
  const ledgers = await areaStep<{ findings: VerifyFinding[]; result?: LedgerResult }>(
    log,
    'ledgers',
    timings,
    async () => {
      const read = await readArea(client, 'ledgers', LEDGER_TABLES(files), again, () =>
        checkLedgerArea(client, files, state, { profile }),
      );
      if (read.locked)
        return { value: { findings: [read.locked] }, findings: [read.locked], detail: notReadDetail(read.locked) };
      const r = withoutRelease(read.value, state, profile);
      const pending = r.pending.length ? `, ${r.pending.length} pending` : '';
      return {
        value: { findings: r.findings, result: r },
        findings: r.findings,
        detail:
          `${r.release.detected ?? 'no release'}; ${r.applied.length} of ` +
          `${plural(files.entry.idx + 1, 'migration')} applied${pending}`,
      };
    },
  );
  const ledger: LedgerResult | undefined = ledgers.result;
  let seed: VerifyFinding[] = [];
  const expected = profile.seed;
  if (expected) {
    seed = await areaStep(log, 'seed data', timings, async () => {
      // The tables the seed area reads (not only those the seed step writes: users too).
      const seedTables = Object.keys(SEED_COLUMNS).map((t) => `public.${t}`);
      const blocked = seedTables.filter((t) => state.unread?.has(t));
      // A seed table left out of the catalog is locked: its rows cannot be read either.
      const read = blocked.length
        ? { locked: await lockedArea(client, 'seed data', blocked, again) }
        : await readArea(client, 'seed data', seedTables, again, () => checkSeedArea(client, state, expected));
      if (read.locked) return { value: [read.locked], findings: [read.locked], detail: notReadDetail(read.locked) };
      const r = read.value;
      const detail = r.seed
        ? `${plural(r.seed.organizations, 'organization')}, ${plural(r.seed.permissions, 'permission')}`
        : 'not checked';
      return { value: r.findings, findings: r.findings, detail };
    });
  }
  return {
    state,
    findings: [
      ...(catalogLocked ? [catalogLocked] : []),
      ...schemaHints(files, state, schema, ledger),
      ...ledgers.findings,
      ...seed,
    ],
    release: ledger?.release ?? { detected: null, expected: profile.latestRelease ?? null, evidence: [] },
  };
}

export async function runVerification(
  config: Config,
  log: Logger,
  report: ReportBuilder,
  options: RunOptions,
): Promise<VerificationRun> {
  registerUrlSecrets(config.healthcheckUrls);
  const { profile } = options;
  const files = loadVerifyFiles({
    drizzleDir: profile.drizzleDir,
    legacyDir: profile.legacyDir,
    profile,
    snapshotEntry: options.snapshotEntry,
    snapshotOptional: !profile.legacy,
  });
  // An app's expected schema is what its migrations build; Pulse's snapshots are held to its
  // migrations by upkit's own tests, and a legacy install never ran drizzle's first entry.
  if (!profile.legacy)
    useExpected(
      files,
      await expectedSchemaFor(config, files, { build: options.shadow !== false, signal: options.signal, log }),
    );
  const runtimeStarted = performance.now();
  const runtime = checkRuntime(config).then((r) => ({ ...r, ms: performance.now() - runtimeStarted }));
  const pgDumps = options.versions ? findBinaries('pg_dump', config.pgBinDir) : Promise.resolve([]);
  const timings: Partial<Record<Area, number>> = {};
  const skipped: Partial<Record<Area, string>> = {};
  // An app without seed data has no seed data area: nothing about seed data is claimed for it.
  const areas = AREAS.filter((a) => profile.seed || a !== 'seed data');

  const again = options.again ?? 'npx zx verify/index.ts';
  let running: RunInProgress | undefined;
  const db = await withClient(
    config.migrationDb,
    config,
    async (client) => {
      // Its own session's timeouts, as migrations set theirs, before the first read: a role's
      // or database's idle_in_transaction_session_timeout or statement_timeout must not end
      // verification half-way (it waits for nothing but its own reads).
      await client
        .query(
          `select set_config('idle_in_transaction_session_timeout', '0', false), ` +
            `set_config('statement_timeout', '30s', false), set_config('lock_timeout', '5s', false)`,
        )
        .catch((err: unknown) => Promise.reject(readFailure(err)));
      return withTransaction(
        client,
        async () => {
          running = await runInProgress(client);
          return checkDatabase(client, files, profile, log, timings, again);
        },
        { readOnly: true },
      ).catch(async (err: unknown) => {
        if (running && !isUpkitError(err)) throw runningError(running, config.migrationDb.database, err);
        if ((err as { code?: string }).code === '55P03') throw await lockFailure(client, err, again);
        throw readFailure(err);
      });
    },
    { applicationName: 'upkit verify' },
  );

  const rt = await areaStep(log, 'runtime', timings, async (s) => {
    const r = await runtime;
    const passed = r.findings.filter((f) => f.severity === 'info' && f.code !== 'runtime.not_configured').length;
    if (!r.checked) s.skip('HEALTHCHECK_URLS and COMPOSE_FILE are not set');
    return {
      value: r,
      findings: r.findings,
      detail: r.checked ? `${plural(passed, 'check')} passed` : 'HEALTHCHECK_URLS and COMPOSE_FILE are not set',
    };
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
    pgDump: pgDump
      ? `${pgDump.version} at ${pgDump.path} (found via ${pgDump.foundVia})`
      : options.versions
        ? `none found that can dump PostgreSQL ${server.version}`
        : null,
    database: describeTarget(config.migrationDb),
    snapshot: `${files.entry.tag} (${files.snapshotFile})`,
  };
  return {
    findings,
    areas: areaSummaries(timings, skipped, areas),
    versions,
    hasErrors: findings.some((f) => f.severity === 'error'),
    ...(running ? { running } : {}),
  };
}
