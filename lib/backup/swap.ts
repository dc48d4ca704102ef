// The in-place part of a restore: the restored database takes the live one's name, and
// the live one stays beside it under another name until the operator drops it. The live
// database is unusable only between refusing its connections and the renames' commit;
// both renames commit together, so there is never a moment without a database of that name
// once the swap has failed or finished.
import type { Client } from 'pg';
import type { Config, DbTarget } from '../config.ts';
import { UpkitError } from '../errors.ts';
import { formatPgError, isPgError } from '../pgError.ts';
import { shellQuote, sqlIdent, sqlLiteral } from '../quote.ts';
import { withMaintenanceClient } from './restoreDb.ts';

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
}

/** A psql command line an operator can paste: one statement per -c, stopping at the first error. */
export function psqlCommand(target: Pick<DbTarget, 'host' | 'port' | 'user'>, statements: readonly string[]): string {
  const args = ['psql', '-h', target.host, '-p', String(target.port), '-U', target.user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1'];
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
  const { rows } = await client.query<{ datname: string; datallowconn: boolean }>('select datname, datallowconn from pg_database where datname = any($1)', [wanted]);
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
          and (r.rolsuper or not (pg_has_role(current_user, a.usesysid, 'MEMBER') or pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')))
        order by a.pid`,
      [database],
    );
    return rows.map((r) => r.who);
  });
}

const SESSION_EXIT_WAIT_MS = 5000;

/**
 * Ends every session of the database and waits until they are gone. Polled here every few
 * ms: pg_terminate_backend's own wait, and the one RENAME does, sleep 100 ms at a time,
 * which would be most of the swap window.
 */
async function endSessions(c: Pick<Client, 'query'>, database: string, ownPids: readonly number[]): Promise<number> {
  const others = 'from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()';
  const { rows } = await c.query<{ pid: number }>(`select pid, pg_terminate_backend(pid) ${others}`, [database]);
  const deadline = performance.now() + SESSION_EXIT_WAIT_MS;
  while (performance.now() < deadline) {
    const left = await c.query(`select 1 ${others}`, [database]);
    if (!left.rowCount) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  return rows.filter((r) => !ownPids.includes(r.pid)).length;
}

/**
 * Refuses connections to the live database, ends its sessions (the caller's own lock
 * session on it included: the lock is held until this moment), then renames both
 * databases in one transaction and lets the previous one accept connections again.
 */
export async function swapDatabases(config: ConnSettings, n: SwapNames, options: { ownPids?: readonly number[] } = {}): Promise<SwapResult> {
  let failure: unknown;
  let ended: 'none' | 'some' | 'all' = 'none';
  const done = await withMaintenanceClient(config, async (c) => {
    const live = c.escapeIdentifier(n.live);
    const t0 = performance.now();
    try {
      await c.query(`alter database ${live} with allow_connections false`);
      ended = 'some';
      const terminated = await endSessions(c, n.live, options.ownPids ?? []);
      ended = 'all';
      await c.query('begin');
      await c.query(`alter database ${live} rename to ${c.escapeIdentifier(n.previous)}`);
      await c.query(`alter database ${c.escapeIdentifier(n.restored)} rename to ${live}`);
      await c.query(`alter database ${c.escapeIdentifier(n.previous)} with allow_connections true`);
      await c.query('commit');
      return { windowMs: Math.round(performance.now() - t0), terminated };
    } catch (err) {
      await c.query('rollback').catch(() => {});
      failure = err;
      return undefined;
    }
  }).catch((err: unknown) => {
    failure ??= err;
    return undefined;
  });
  if (done) return done;
  throw await swapFailure(config, n, failure, ended);
}

/** Looks at what the server now has (the failed session may be gone), puts back what can be put back, and says where things stand. */
async function swapFailure(config: ConnSettings, n: SwapNames, cause: unknown, ended: 'none' | 'some' | 'all'): Promise<UpkitError> {
  const why = isPgError(cause) ? formatPgError(cause).headline : cause instanceof Error ? cause.message : String(cause);
  const fail = (message: string, hint: string, details: string[] = []) => new UpkitError({ code: 'restore.swap_failed', exit: 'failed', message: `the swap failed (${why}): ${message}`, hint, details, cause });
  const allow = (db: string) => psqlCommand(config.migrationDb, [`ALTER DATABASE ${sqlIdent(db)} WITH ALLOW_CONNECTIONS true`]);
  try {
    return await withMaintenanceClient(config, async (c) => {
      const seen = await names(c, [n.live, n.restored, n.previous]);
      const state = [...seen].map(([db, allowed]) => `${db}${allowed ? '' : ' (refusing connections)'}`);
      if (seen.has(n.live) && seen.has(n.restored) && !seen.has(n.previous)) {
        // The renames rolled back together: the live database only needs its connections back.
        if (seen.get(n.live) === false) await c.query(`alter database ${c.escapeIdentifier(n.live)} with allow_connections true`);
        return fail(
          `nothing was renamed; ${n.live} is the database it was and accepts connections again${{ none: '', some: ' (some of its sessions may have been ended)', all: ' (its sessions were ended)' }[ended]}. The restored copy is kept as ${n.restored}`,
          `find out why from the message above, drop the copy (${dropCommand(config.migrationDb, n.restored)}) and run the restore again`,
        );
      }
      if (seen.has(n.previous) && seen.has(n.live) && !seen.has(n.restored)) {
        if (seen.get(n.previous) === false) await c.query(`alter database ${c.escapeIdentifier(n.previous)} with allow_connections true`);
        return fail(`the session broke at the very end, but the renames did commit: ${n.live} is the restored database and the previous one is kept as ${n.previous}`, `check ${n.live}; to go back: ${swapBackCommand(config.migrationDb, n)}`);
      }
      return fail(`the server now has: ${state.join(', ') || 'none of the three databases'}`, `look at the databases (psql -l): ${n.restored} is the restored copy, ${n.previous} the database that was ${n.live}; make sure one of them is named ${n.live} and accepts connections (ALTER DATABASE … RENAME TO, … WITH ALLOW_CONNECTIONS true)`, state);
    });
  } catch (err) {
    return fail(
      `and the server could not be asked where things stand (${err instanceof Error ? err.message : String(err)})`,
      `connect as an administrator, list the databases (psql -l), and if ${n.live} refuses connections run: ${allow(n.live)}`,
    );
  }
}
