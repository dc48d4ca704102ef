// The in-place part of a restore: the restored database takes the live one's name, and
// the live one stays beside it under another name until the operator drops it. The live
// database is unusable only between refusing its connections and the renames' commit;
// both renames commit together, so there is never a moment without a database of that name
// once the swap has failed or finished.
import type { Client } from 'pg';
import type { Config, DbTarget } from '../config.ts';
import { withTransaction } from '../db.ts';
import { UpkitError } from '../errors.ts';
import { describeBlocker, type Blocker } from '../apply/session.ts';
import type { Logger } from '../log.ts';
import { formatPgError, isPgError } from '../pgError.ts';
import { redact } from '../redact.ts';
import { shellQuote, sqlIdent, sqlLiteral } from '../quote.ts';
import { withMaintenanceClient } from './restoreDb.ts';
import { plural } from '../plural.ts';

export { shellQuote, sqlIdent } from '../quote.ts';

type ConnSettings = Pick<Config, 'migrationDb' | 'ssl' | 'sslCa' | 'connectTimeoutMs'>;

export interface SwapNames {
  /** The database applications use. */
  live: string;
  /** The restored, checked database that takes its place. */
  restored: string;
  /** What the live database is renamed to. */
  previous: string;
}

export interface SwapResult {
  /** From refusing connections to the live database until the restored one has its name. */
  windowMs: number;
  /** Sessions of the live database that were ended (the caller's own not counted). */
  terminated: number;
  /** Attempts made: each gives way when a lock or a session would hold it past its window. */
  attempts: number;
}

/** A psql command line an operator can paste: one statement per -c, stopping at the first error. */
export function psqlCommand(
  target: Pick<DbTarget, 'host' | 'port' | 'user'>,
  statements: readonly string[],
  database = 'postgres',
): string {
  const args = [
    'psql',
    '-h',
    target.host,
    '-p',
    String(target.port),
    '-U',
    target.user,
    '-d',
    database,
    '-v',
    'ON_ERROR_STOP=1',
  ];
  for (const s of statements) args.push('-c', s);
  return args.map(shellQuote).join(' ');
}

function terminateSql(database: string): string {
  return `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = ${sqlLiteral(database)}`;
}

export function dropCommand(target: Pick<DbTarget, 'host' | 'port' | 'user'>, database: string): string {
  return psqlCommand(target, [`DROP DATABASE ${sqlIdent(database)}`]);
}

/** The swap done backwards: the previous database gets its name again; the restored one is kept as `restored`. */
export function swapBackCommand(target: Pick<DbTarget, 'host' | 'port' | 'user'>, names: SwapNames): string {
  const { live, restored, previous } = names;
  return psqlCommand(target, [
    `ALTER DATABASE ${sqlIdent(live)} WITH ALLOW_CONNECTIONS false`,
    terminateSql(live),
    `ALTER DATABASE ${sqlIdent(live)} RENAME TO ${sqlIdent(restored)}`,
    `ALTER DATABASE ${sqlIdent(previous)} RENAME TO ${sqlIdent(live)}`,
    `ALTER DATABASE ${sqlIdent(restored)} WITH ALLOW_CONNECTIONS true`,
  ]);
}

async function names(client: Pick<Client, 'query'>, wanted: readonly string[]): Promise<Map<string, boolean>> {
  const { rows } = await client.query<{ datname: string; datallowconn: boolean }>(
    'select datname, datallowconn from pg_database where datname = any($1)',
    [wanted],
  );
  return new Map(rows.map((r) => [r.datname, r.datallowconn]));
}

/**
 * Sessions of the database this role may not end (a superuser's, or another role's without
 * pg_signal_backend): found before the swap, they refuse it while nothing has been touched.
 */
export async function sessionsBeyondReach(config: ConnSettings, database: string): Promise<string[]> {
  return withMaintenanceClient(config, async (c) => {
    const { rows } = await c.query<{ who: string }>(
      `select format('pid %s (%s%s)', a.pid, a.usename, coalesce(', ' || nullif(a.application_name, ''), '')) as who
         from pg_stat_activity a join pg_roles r on r.oid = a.usesysid
        where a.datname = $1 and a.pid <> pg_backend_pid()
          and not (select rolsuper from pg_roles where rolname = current_user)
          and (r.rolsuper or not (pg_has_role(current_user, a.usesysid, ` +
        `'MEMBER') or pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')))
        order by a.pid`,
      [database],
    );
    return rows.map((r) => r.who);
  });
}

/** How long a single swap attempt may keep the live database from its applications. */
export const SWAP_WINDOW_MS = 1000;
/** lock_timeout of each statement of the swap: a held lock makes the attempt give way at once. */
const SWAP_LOCK_TIMEOUT_MS = 200;
/** Pauses between attempts; their count plus one is the number of attempts. */
export const SWAP_RETRY_WAITS_MS: readonly number[] = [250, 500, 1000, 2000];

export interface SwapOptions {
  /** Sessions of the live database that are the caller's own (its run lock): not counted as ended. */
  ownPids?: readonly number[];
  log?: Pick<Logger, 'warn' | 'debug'>;
  signal?: AbortSignal;
  retryWaitsMs?: readonly number[];
  windowMs?: number;
  /**
   * Called after a failed attempt, once the live database accepts connections again: the
   * attempt ended the caller's lock session, so the lock is taken again before the next
   * one. Returns the new session's pid.
   */
  relock?: () => Promise<number>;
  /** Called before an attempt refuses the live database's connections (the caller marks its copy). */
  beforeAttempt?: () => Promise<void>;
}

/** Why one attempt gave way: the blockers it saw, described as migrations describe theirs. */
class AttemptFailed extends Error {
  readonly blockers: Blocker[];
  readonly firstPid: number | undefined;
  /** The live database's sessions were ended (the caller's lock session with them). */
  readonly sessionsEnded: boolean;

  constructor(message: string, blockers: Blocker[], firstPid: number | undefined, sessionsEnded = false) {
    super(message);
    this.blockers = blockers;
    this.firstPid = firstPid;
    this.sessionsEnded = sessionsEnded;
  }
}

/**
 * Sessions (of any database) and prepared transactions that hold or wait for a lock on the
 * database objects themselves (COMMENT ON DATABASE, another ALTER DATABASE), which RENAME
 * must wait for. Sessions connected to the live database are not counted: the swap ends them.
 */
export async function databaseBlockers(c: Pick<Client, 'query'>, databases: readonly string[]): Promise<Blocker[]> {
  const { rows } = await c.query<{
    pid: number | null;
    who: string;
    relation: string;
    mode: string;
    state: string | null;
    query: string;
    age: number;
  }>(
    `select a.pid,
            case when a.pid is null then format('prepared transaction %s, %s', p.gid, p.owner)
                 else concat_ws(', ', a.usename, nullif(a.application_name, '')) end as who,
            'database ' || d.datname as relation, l.mode, a.state, left(coalesce(a.query, ''), 300) as query,
            extract(epoch from now() - coalesce(a.xact_start, a.query_start, p.prepared))::float8 as age
       from pg_locks l
       join pg_database d on l.locktype = 'object' and l.classid = 'pg_database'::regclass and l.objid = d.oid
       left join pg_stat_activity a on a.pid = l.pid
       left join pg_prepared_xacts p on l.pid is null and l.virtualtransaction = '-1/' || p.transaction
      where d.datname = any($1) and coalesce(l.pid, 0) <> pg_backend_pid()
        and (a.pid is null or a.datname is distinct from d.datname)
     union all
     -- An open transaction that changed the database's row (another admin's ALTER DATABASE): its xid is the row's xmax.
     select a.pid, concat_ws(', ', a.usename, nullif(a.application_name, '')), 'database ' || d.datname, 'row', a.state,
            left(coalesce(a.query, ''), 300), extract(epoch from now() - a.xact_start)::float8
       from pg_database d
       join pg_locks l on l.locktype = 'transactionid' and l.mode = 'ExclusiveLock' and l.transactionid = d.xmax
       join pg_stat_activity a on a.pid = l.pid
      where d.datname = any($1) and d.xmax <> '0'::xid and a.pid <> pg_backend_pid()
      order by 1, 7 desc`,
    [databases],
  );
  const seen = new Set<string>();
  return rows
    .filter((r) => !seen.has(`${r.pid} ${r.relation}`) && seen.add(`${r.pid} ${r.relation}`))
    .map((r) => ({
      pid: r.pid ?? 0,
      relation: r.relation,
      mode: r.mode,
      state: r.state,
      query: redact(r.query.replace(/\s+/g, ' ').trim()),
      ageSeconds: Math.round(r.age),
      applicationName: r.who,
    }));
}

function describe(b: Blocker): string {
  if (!b.pid) return `a ${b.applicationName} holds ${b.mode} on ${b.relation} for ${b.ageSeconds} s`;
  if (b.mode === 'row')
    return (
      `pid ${b.pid} (${b.applicationName}) changed ${b.relation} and has not committed ` +
      `for ${b.ageSeconds} s, ${b.state ?? 'state unknown'}: ${b.query || '(no query)'}`
    );
  return describeBlocker(b);
}

/** Sessions of the database still there after they were told to end. */
async function sessionsLeft(c: Pick<Client, 'query'>, database: string): Promise<Array<{ pid: number; who: string }>> {
  const { rows } = await c.query<{ pid: number; who: string }>(
    `select pid, concat_ws(', ', usename, nullif(application_name, '')) ` +
      `as who from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() order by pid`,
    [database],
  );
  return rows;
}

/**
 * Ends every session of the database and waits until they are gone, at most until the
 * deadline. Polled every few ms: pg_terminate_backend's own wait, and the one RENAME does,
 * sleep 100 ms at a time, which would be most of the swap window.
 */
async function endSessions(
  c: Pick<Client, 'query'>,
  database: string,
  ownPids: readonly number[],
  deadline: number,
): Promise<number> {
  const { rows } = await c.query<{ pid: number }>(
    `select pid, pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
    [database],
  );
  while (performance.now() < deadline) {
    if (!(await sessionsLeft(c, database)).length) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  return rows.filter((r) => !ownPids.includes(r.pid)).length;
}

const isTimeout = (err: unknown) => ['55P03', '57014', '55006'].includes((err as { code?: string })?.code ?? '');

/**
 * One attempt: refuse connections to the live database, end its sessions (the caller's
 * lock session included: the lock is held until this moment), rename both databases in one
 * transaction and let the previous one accept connections again, all within the window;
 * any statement that would wait for a lock longer gives way. On failure the live database
 * accepts connections again before this returns.
 */
async function attempt(c: Client, n: SwapNames, ownPids: readonly number[], windowMs: number): Promise<SwapResult> {
  const live = c.escapeIdentifier(n.live);
  const remaining = (t0: number) => Math.max(50, Math.floor(windowMs - (performance.now() - t0)));
  await c.query(`select set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [
    `${SWAP_LOCK_TIMEOUT_MS}ms`,
    `${windowMs}ms`,
  ]);
  const seen = await databaseBlockers(c, [n.live, n.restored]);
  if (seen.length) throw new AttemptFailed(`${seen.map(describe).join('; ')}`, seen, seen.find((b) => b.pid)?.pid);
  const t0 = performance.now();
  let refused = false;
  try {
    await c.query(`alter database ${live} with allow_connections false`);
    refused = true;
    const terminated = await endSessions(c, n.live, ownPids, t0 + windowMs / 2);
    const left = await sessionsLeft(c, n.live);
    if (left.length)
      throw new AttemptFailed(
        `${plural(left.length, 'session')} of ${n.live} did not end in time: ` +
          `${left.map((s) => `pid ${s.pid} (${s.who})`).join(', ')}`,
        [],
        left[0]!.pid,
        true,
      );
    await withTransaction(c, async () => {
      const budget = `${remaining(t0)}ms`;
      await c.query(`select set_config('lock_timeout', $1, true), set_config('statement_timeout', $1, true)`, [budget]);
      // The copy's marker (leftovers.ts) goes with the swap: the database that takes the name is no leftover.
      await c.query(`comment on database ${c.escapeIdentifier(n.restored)} is null`);
      await c.query(`alter database ${live} rename to ${c.escapeIdentifier(n.previous)}`);
      await c.query(`alter database ${c.escapeIdentifier(n.restored)} rename to ${live}`);
      await c.query(`alter database ${c.escapeIdentifier(n.previous)} with allow_connections true`);
    });
    refused = false;
    return { windowMs: Math.round(performance.now() - t0), terminated, attempts: 1 };
  } catch (err) {
    if (refused) await allowAgain(c, n.live);
    if (err instanceof AttemptFailed || !isTimeout(err)) throw err;
    const ended = refused;
    const blockers = await databaseBlockers(c, [n.live, n.restored]).catch(() => []);
    const left = blockers.length ? [] : await sessionsLeft(c, n.live).catch(() => []);
    const why = isPgError(err) ? formatPgError(err).headline : String(err);
    const who = blockers.length
      ? blockers.map(describe).join('; ')
      : left.length
        ? `${plural(left.length, 'session')} of ${n.live}: ${left.map((s) => `pid ${s.pid} (${s.who})`).join(', ')}`
        : `${why}, by a session that has since let go`;
    throw new AttemptFailed(who, blockers, blockers.find((b) => b.pid)?.pid ?? left[0]?.pid, ended);
  }
}

/** Connections back on, waiting longer than the swap does: the live database must never stay refusing. */
async function allowAgain(c: Pick<Client, 'query'>, database: string): Promise<void> {
  await c.query(`select set_config('lock_timeout', '10s', false), set_config('statement_timeout', '20s', false)`);
  await c.query(`alter database ${sqlIdent(database)} with allow_connections true`);
}

/**
 * The swap, in attempts of at most `windowMs` each (SWAP_WINDOW_MS): a lock on either
 * database object, a session that does not end, or a rename that would wait makes the
 * attempt give way, the live database accept connections again, and the next attempt come
 * after a pause. When every attempt gave way, a `restore.swap_busy` refusal names the
 * blocker; nothing was renamed.
 */
export async function swapDatabases(
  config: ConnSettings,
  n: SwapNames,
  options: SwapOptions = {},
): Promise<SwapResult> {
  const waits = options.retryWaitsMs ?? SWAP_RETRY_WAITS_MS;
  const windowMs = options.windowMs ?? SWAP_WINDOW_MS;
  let ownPids = [...(options.ownPids ?? [])];
  let failure: unknown;
  for (let i = 0; ; i++) {
    await options.beforeAttempt?.();
    let last: AttemptFailed | undefined;
    const done = await withMaintenanceClient(config, async (c) => {
      try {
        return await attempt(c, n, ownPids, windowMs);
      } catch (err) {
        if (err instanceof AttemptFailed) last = err;
        else failure = err;
        return undefined;
      }
    }).catch((err: unknown) => {
      failure ??= err;
      return undefined;
    });
    if (done) return { ...done, attempts: i + 1 };
    if (!last) break;
    const wait = waits[i];
    if (wait === undefined || options.signal?.aborted) {
      const stop = last.firstPid
        ? `stop it with: ${psqlCommand(config.migrationDb, [`SELECT pg_terminate_backend(${last.firstPid})`])}`
        : 'commit or roll back the prepared transaction (COMMIT PREPARED / ROLLBACK PREPARED)';
      throw new UpkitError({
        code: 'restore.swap_busy',
        exit: 'refused',
        message: `the swap gave way ${plural(i + 1, 'time')} within ${windowMs} ms each; ${last.message}`,
        hint: `wait for that work to end, or ${stop}, then run the restore again`,
      });
    }
    options.log?.warn(
      `swap: ${last.message}; ${n.live} accepts connections again; ` +
        `attempt ${i + 2}/${waits.length + 1} in ${(wait / 1000).toFixed(2)} s`,
    );
    await new Promise((r) => setTimeout(r, wait));
    if (options.relock && last.sessionsEnded) ownPids = [await options.relock()];
  }
  throw await swapFailure(config, n, failure);
}

/**
 * Looks at what the server now has (the failed session may be gone), puts back what can be put back, and says where
 * things stand.
 */
async function swapFailure(config: ConnSettings, n: SwapNames, cause: unknown): Promise<UpkitError> {
  const why = isPgError(cause) ? formatPgError(cause).headline : cause instanceof Error ? cause.message : String(cause);
  const fail = (message: string, hint: string, details: string[] = []) =>
    new UpkitError({
      code: 'restore.swap_failed',
      exit: 'failed',
      message: `the swap failed (${why}): ${message}`,
      hint,
      details,
      cause,
    });
  const allow = (db: string) =>
    psqlCommand(config.migrationDb, [`ALTER DATABASE ${sqlIdent(db)} WITH ALLOW_CONNECTIONS true`]);
  try {
    return await withMaintenanceClient(config, async (c) => {
      const seen = await names(c, [n.live, n.restored, n.previous]);
      const state = [...seen].map(([db, allowed]) => `${db}${allowed ? '' : ' (refusing connections)'}`);
      if (seen.has(n.live) && seen.has(n.restored) && !seen.has(n.previous)) {
        // The renames rolled back together: the live database only needs its connections back.
        if (seen.get(n.live) === false)
          await c.query(`alter database ${c.escapeIdentifier(n.live)} with allow_connections true`);
        return fail(
          `nothing was renamed; ${n.live} is the database it was and accepts connections ` +
            `again (its sessions may have been ended). The restored copy is kept as ${n.restored}`,
          `find out why from the message above, drop the copy (` +
            `${dropCommand(config.migrationDb, n.restored)}) and run the restore again`,
        );
      }
      if (seen.has(n.previous) && seen.has(n.live) && !seen.has(n.restored)) {
        if (seen.get(n.previous) === false)
          await c.query(`alter database ${c.escapeIdentifier(n.previous)} with allow_connections true`);
        return fail(
          `the session broke at the very end, but the renames did commit: ` +
            `${n.live} is the restored database and the previous one is kept as ${n.previous}`,
          `check ${n.live}; to go back: ${swapBackCommand(config.migrationDb, n)}`,
        );
      }
      return fail(
        `the server now has: ${state.join(', ') || 'none of the three databases'}`,
        `look at the databases (psql -l): ${n.restored} is the restored copy, ` +
          `${n.previous} the database that was ${n.live}; make sure one of them is named ${n.live} and ` +
          `accepts connections (ALTER DATABASE … RENAME TO, … WITH ALLOW_CONNECTIONS true)`,
        state,
      );
    });
  } catch (err) {
    return fail(
      `and the server could not be asked where things stand (${err instanceof Error ? err.message : String(err)})`,
      `connect as an administrator, list the databases (psql -l), ` +
        `and if ${n.live} refuses connections run: ${allow(n.live)}`,
    );
  }
}
