// Database access scoped by callbacks: a connection, a transaction or the run's advisory
// lock is always released in `finally`. Connection failures become one UpkitError naming
// host and port (never the password) and the next thing to try.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import pg from 'pg';
import type { Config, DbTarget } from './config.ts';
import { describeTarget, TARGET_SCHEMA } from './config.ts';
import { isUpkitError, UpkitError } from './errors.ts';
import { targetOptions } from './pgOptions.ts';
import { sqlIdent } from './quote.ts';

export type Client = pg.Client;

export interface ConnectOptions {
  /** Shown in pg_stat_activity, so a DBA (or a second run) can see who holds what. */
  applicationName?: string;
  /** Overrides the configured connect timeout. */
  connectTimeoutMs?: number;
}

type SslSettings = Pick<Config, 'ssl' | 'sslCa' | 'connectTimeoutMs'>;

export function clientConfig(target: DbTarget, config: SslSettings, options: ConnectOptions = {}): pg.ClientConfig {
  let ssl: pg.ClientConfig['ssl'] = false;
  // As libpq: a Unix socket never carries SSL (the server would refuse to start it there).
  const socket = target.host.startsWith('/');
  if (!socket && (config.ssl === 'true' || config.ssl === 'require')) ssl = { rejectUnauthorized: false };
  if (!socket && config.ssl === 'verify-full') {
    ssl = { rejectUnauthorized: true, ...(config.sslCa ? { ca: readFileSync(config.sslCa, 'utf8') } : {}) };
  }
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    ssl,
    connectionTimeoutMillis: options.connectTimeoutMs ?? config.connectTimeoutMs,
    application_name: (options.applicationName ?? 'upkit').slice(0, 63),
    // Every session starts with search_path pinned, so that neither a role's or database's
    // default (nor a schema named like the role, first in "$user", public) decides where
    // unqualified names go; the URL's own settings are passed on before it. An app's
    // search_path is its own (pgOptions.ts targetOptions).
    options: targetOptions(target, TARGET_SCHEMA),
  };
}

/** Where a target connects, for messages: host and port, or the socket file in a socket directory. */
export function whereOf(target: Pick<DbTarget, 'host' | 'port'>): string {
  return target.host.startsWith('/')
    ? `${target.host.replace(/\/$/, '')}/.s.PGSQL.${target.port}`
    : `${target.host}:${target.port}`;
}

const NEXT = 'then run: npx zx scripts/preflight.ts';

/** Turns a failure to connect into one line a person can act on. */
export function connectError(err: unknown, target: DbTarget, timeoutMs: number): UpkitError {
  const e = err as { code?: string; message?: string };
  const where = whereOf(target);
  const who = `user "${target.user}"`;
  const make = (code: string, message: string, hint: string) =>
    new UpkitError({ code, exit: 'refused', message, hint, cause: err });
  const keys = target.source === 'DB_*' ? 'DB_HOST and DB_PORT' : target.source;
  switch (e.code) {
    case 'ENOENT':
    case 'EACCES':
      if (target.host.startsWith('/')) {
        return make(
          'db.unreachable',
          `cannot connect to PostgreSQL at ${where}: ${e.code === 'ENOENT' ? 'no such socket' : 'permission denied'}`,
          `is the server running with unix_socket_directories = '` +
            `${target.host}' and port ${target.port}? check ${keys}, ${NEXT}`,
        );
      }
      break;
    case 'ECONNREFUSED':
      return make(
        'db.unreachable',
        `cannot connect to PostgreSQL at ${where}: connection refused`,
        `is the server running and listening there? check ${keys}, ${NEXT}`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return make(
        'db.unresolved',
        `cannot resolve the database host "${target.host}"`,
        `check the host name in ${keys}, ${NEXT}`,
      );
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return make(
        'db.unreachable',
        `cannot reach PostgreSQL at ${where} (${e.code})`,
        `check the network path and ${keys}, ${NEXT}`,
      );
    case '28P01':
      return make(
        'db.auth',
        `password authentication failed for ${who} at ${where}`,
        `check the password (${target.source === 'DB_*' ? 'DB_PASSWORD' : `in ${target.source}`}), ${NEXT}`,
      );
    case '28000':
      return make(
        'db.auth',
        `PostgreSQL at ${where} refused ${who}: ${e.message ?? 'not authorized'}`,
        `check pg_hba.conf on the server and the user name, ${NEXT}`,
      );
    case '3D000':
      return make(
        'db.missing',
        `database "${target.database}" does not exist on ${where}`,
        'create it with: npx zx install.ts (or check the database name)',
      );
    case '53300':
      return make(
        'db.busy',
        `PostgreSQL at ${where} has no connection slot left for ${who}: ${e.message ?? 'too many connections'}`,
        'wait for connections to close, or raise the limit (max_connections, ' +
          "or the role's or database's CONNECTION LIMIT), then run the command again",
      );
    case '55000':
      if (/not currently accepting connections/i.test(e.message ?? '')) {
        return make(
          'db.not_accepting',
          `database "${target.database}" on ${where} does not accept connections (ALLOW_CONNECTIONS is off)`,
          `an administrator can allow them again with: ALTER DATABASE ${sqlIdent(target.database)}` +
            ` ALLOW_CONNECTIONS true; then run the command again`,
        );
      }
      break;
    case '57P03':
      return make(
        'db.starting',
        `PostgreSQL at ${where} is starting up or shutting down`,
        'wait a moment, then run the command again',
      );
  }
  const message = e.message ?? String(err);
  if (/timeout|timed out/i.test(message)) {
    return make(
      'db.timeout',
      `no answer from PostgreSQL at ${where} within ${Math.round(timeoutMs / 1000)} s`,
      `check that ${where} is reachable from this host and ${keys} is right, ${NEXT}`,
    );
  }
  if (/ssl|tls|certificate/i.test(message)) {
    return make(
      'db.ssl',
      `SSL connection to ${where} failed: ${message}`,
      `check DATABASE_SSL and DATABASE_SSL_CA, ${NEXT}`,
    );
  }
  if (/terminated unexpectedly|ECONNRESET|socket hang up/i.test(message)) {
    return make(
      'db.not_postgres',
      `${where} closed the connection without answering as PostgreSQL does`,
      `check that ${keys} names the PostgreSQL server's port, not another service's, ${NEXT}`,
    );
  }
  return make('db.connect', `cannot connect to ${describeTarget(target)}: ${message}`, `check ${keys}, ${NEXT}`);
}

// SQLSTATEs the server sends as it ends a session (shutdown, crash of another backend,
// starting up) and the socket errors of a connection that went away.
const LOST_STATES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006']);
const LOST_ERRNOS = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT']);

/**
 * The session is gone (the server restarted or shut down, or the network failed), as opposed to a statement that
 * failed.
 */
export function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && (LOST_STATES.has(e.code) || LOST_ERRNOS.has(e.code))) return true;
  return (
    typeof e.message === 'string' &&
    /^(Connection terminated|Client has encountered a connection error|Client was closed)/.test(e.message)
  );
}

export async function connect(target: DbTarget, config: SslSettings, options: ConnectOptions = {}): Promise<Client> {
  const settings = clientConfig(target, config, options);
  const client = new pg.Client(settings);
  // A connection that dies later (server restart) must become an error on the next query,
  // never an unhandled 'error' event that kills the process without a message.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw connectError(err, target, settings.connectionTimeoutMillis ?? 0);
  }
  // An app's first session starts with the search_path the server sets for this role and
  // database (no inherited PGOPTIONS reached it): every later session pins that value.
  if (target.app && target.searchPath === undefined) {
    try {
      target.searchPath = (await client.query<{ search_path: string }>('show search_path')).rows[0]!.search_path;
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
  }
  return client;
}

export async function withClient<T>(
  target: DbTarget,
  config: SslSettings,
  fn: (client: Client) => Promise<T>,
  options?: ConnectOptions,
): Promise<T> {
  const client = await connect(target, config, options);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export interface TransactionOptions {
  readOnly?: boolean;
  /** `repeatable read` for a snapshot that stays the same through the transaction (a backup's). */
  isolation?: 'repeatable read' | 'serializable';
}

/**
 * Runs `fn` in a transaction on `client`: committed when it resolves, rolled back (and the
 * error thrown on) when it rejects, so that the session is free for the next statement
 * either way. The one transaction helper of upkit: the engine's steps, the backup's
 * snapshot, the swap and verify's replay all go through it.
 */
export async function withTransaction<T, C extends Pick<Client, 'query'> = Client>(
  client: C,
  fn: (client: C) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const mode = [options.isolation && `isolation level ${options.isolation}`, options.readOnly && 'read only'];
  await client.query(['begin', ...mode.filter(Boolean)].join(' '));
  try {
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  }
}

/** The run lock: one key for every upkit command that writes, per database. */
export const LOCK_KEY = { classId: 0x75706b74, objId: 1 } as const;

export interface LockHolder {
  pid: number;
  applicationName: string;
  clientAddr: string | null;
  backendStart: Date | null;
}

export async function lockHolder(client: Client): Promise<LockHolder | undefined> {
  const { rows } = await client.query<{
    pid: number;
    application_name: string;
    client_addr: string | null;
    backend_start: Date | null;
  }>(
    `select a.pid, a.application_name, host(a.client_addr) as client_addr, a.backend_start
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.classid = $1 and l.objid = $2 and l.granted
        and l.database = (select oid from pg_database where datname = current_database())
      limit 1`,
    [LOCK_KEY.classId, LOCK_KEY.objId],
  );
  const r = rows[0];
  return (
    r && { pid: r.pid, applicationName: r.application_name, clientAddr: r.client_addr, backendStart: r.backend_start }
  );
}

export function lockApplicationName(command: string): string {
  return `upkit ${command} ${hostname()} ${process.pid}`.slice(0, 63);
}

/** Who holds the run lock, as messages name it. */
export function describeHolder(holder: LockHolder | undefined): string {
  return holder
    ? `pid ${holder.pid} (${holder.applicationName || 'unknown program'}` +
        `${holder.clientAddr ? ` from ${holder.clientAddr}` : ''}, ` +
        `connected ${holder.backendStart?.toISOString() ?? 'at an unknown time'})`
    : 'a session that has just ended';
}

/** The largest --wait-for-lock (lib/cliLimits.ts, where help texts read it without loading pg). */
export { MAX_LOCK_WAIT_SECONDS } from './cliLimits.ts';

/** `--wait-for-lock SECONDS`: wait for the run that holds the lock instead of refusing at once. */
export interface LockWait {
  seconds: number;
  /** Told who holds the lock as the wait begins. */
  onWait(holder: string): void;
  /** Stops the wait (the session's statement is cancelled): exit 130, nothing changed. */
  signal?: AbortSignal;
}

function tryLock(client: Client): Promise<boolean> {
  return client
    .query<{ locked: boolean }>('select pg_try_advisory_lock($1::int, $2::int) as locked', [
      LOCK_KEY.classId,
      LOCK_KEY.objId,
    ])
    .then((r) => r.rows[0]?.locked === true);
}

/**
 * Waits for the run lock in the server's own lock queue: `pg_advisory_lock` under a
 * `lock_timeout` of the wait (and no statement_timeout), both local to one transaction; the
 * session-level lock outlives it. The session shows in pg_stat_activity as waiting (wait_event
 * `advisory`), is granted the moment the holder lets go, in the order the waiters came.
 * False when the wait ran out.
 */
async function waitForLock(client: Client, target: DbTarget, config: SslSettings, wait: LockWait): Promise<boolean> {
  const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  // The wait is cancelled from a session of its own, as psql's Ctrl-C does.
  const onAbort = () =>
    void withClient(target, config, (c) => c.query('select pg_cancel_backend($1)', [pid]), {
      applicationName: 'upkit cancel',
    }).catch(() => {});
  await client.query('begin');
  try {
    await client.query(`select set_config('lock_timeout', $1, true), set_config('statement_timeout', '0', true)`, [
      `${wait.seconds * 1000}ms`,
    ]);
    if (wait.signal?.aborted) throw wait.signal.reason;
    wait.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await client.query('select pg_advisory_lock($1::int, $2::int)', [LOCK_KEY.classId, LOCK_KEY.objId]);
    } finally {
      wait.signal?.removeEventListener('abort', onAbort);
    }
    await client.query('commit');
    return true;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    if ((err as { code?: string }).code === '55P03') return false;
    if (wait.signal?.aborted) {
      const by = isUpkitError(wait.signal.reason) ? wait.signal.reason.message : 'interrupted';
      throw new UpkitError({
        code: 'interrupted',
        exit: 'interrupted',
        message: `${by} while waiting for the run lock on ${target.database}; nothing was changed`,
        hint: 'run the upgrade again when ready',
      });
    }
    // The session was ended (by an administrator, a server restart): nothing had begun.
    const why = (err as { message?: string }).message ?? String(err);
    throw new UpkitError({
      code: 'lock.wait_ended',
      exit: 'refused',
      message:
        `the session waiting for the run lock on ${target.database}` +
        ` ended before it got the lock: ${why}; nothing was changed`,
      hint: 'check the server with: npx zx scripts/preflight.ts, then run the upgrade again',
      cause: err,
    });
  }
}

/**
 * Holds the session-level advisory lock on a dedicated connection for as long as fn runs.
 * A second holder is refused at once (exit 5), naming the run that has it; with `wait`
 * it waits for that run up to `wait.seconds` first.
 */
export async function withAdvisoryLock<T>(
  target: DbTarget,
  config: SslSettings,
  command: string,
  fn: (lockClient: Client) => Promise<T>,
  wait?: LockWait,
): Promise<T> {
  const client = await connect(target, config, { applicationName: lockApplicationName(command) });
  try {
    if (!(await tryLock(client))) {
      const who = describeHolder(await lockHolder(client));
      if (!wait) {
        throw new UpkitError({
          code: 'lock.held',
          exit: 'locked',
          message: `another upkit run holds the lock on ${target.database}: ${who}`,
          hint: 'wait for it to finish (npx zx scripts/status.ts shows it); nothing was changed',
        });
      }
      wait.onWait(who);
      if (!(await waitForLock(client, target, config, wait))) {
        throw new UpkitError({
          code: 'lock.held',
          exit: 'locked',
          message:
            `another upkit run still holds the lock on ${target.database} after ${wait.seconds} s of ` +
            `waiting (--wait-for-lock ${wait.seconds}): ${describeHolder(await lockHolder(client))}`,
          hint:
            'wait for it to finish (npx zx scripts/status.ts shows it), ' +
            'or wait longer with --wait-for-lock SECONDS; nothing was changed',
        });
      }
    }
    try {
      return await fn(client);
    } finally {
      await client
        .query('select pg_advisory_unlock($1::int, $2::int)', [LOCK_KEY.classId, LOCK_KEY.objId])
        .catch(() => {});
    }
  } finally {
    await client.end().catch(() => {});
  }
}
