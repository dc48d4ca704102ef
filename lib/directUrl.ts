// DIRECT_URL and DATABASE_URL must reach one database: migrations run through DIRECT_URL,
// Pulse and the health checks use DATABASE_URL. Names prove nothing (the same name on a
// replica or another server; a pooler's alias naming the database otherwise), so both are
// connected to and asked which server and database they are, before anything is written.
import { serverIdentifier } from './backup/leftovers.ts';
import type { Config, DbTarget } from './config.ts';
import { connect, whereOf } from './db.ts';
import { UpkitError, isUpkitError } from './errors.ts';
import type { Logger } from './log.ts';
import type { ReportBuilder } from './report.ts';

/** Which server and database a connection reached. */
export interface DatabaseIdentity {
  /** pg_control_system()'s system_identifier, or null where the role may not call it. */
  systemIdentifier: string | null;
  /** When the postmaster started, in UTC to the microsecond. */
  startedAt: string;
  database: string;
  databaseOid: string;
}

/**
 * pg_control_system() is granted to PUBLIC by PostgreSQL itself (an ordinary role calls it on
 * the tests' server; the test of this check does so), yet a managed service or an
 * administrator may revoke it: serverIdentifier() then gives null and the rest still decides. The postmaster's start
 * time (readable by every role, printed in UTC so that a role's TimeZone cannot change it) tells apart two servers that
 * share a system identifier (a physical replica, a copied data directory) and two servers
 * without one; the database's oid tells apart a database dropped and created again under the
 * same name. Host, port and the server's address are not part of it: a pooler or a proxy
 * changes them while reaching the same database.
 */
export async function readDatabaseIdentity(c: Parameters<typeof serverIdentifier>[0]): Promise<DatabaseIdentity> {
  const { rows } = await c.query<{ started: string; database: string; oid: string }>(
    `select to_char(pg_postmaster_start_time() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') as started,
            current_database() as database,
            (select oid::text from pg_database where datname = current_database()) as oid`,
  );
  const r = rows[0]!;
  return {
    systemIdentifier: await serverIdentifier(c),
    startedAt: r.started,
    database: r.database,
    databaseOid: r.oid,
  };
}

export function sameDatabase(a: DatabaseIdentity, b: DatabaseIdentity): boolean {
  const ids =
    a.systemIdentifier !== null && b.systemIdentifier !== null ? a.systemIdentifier === b.systemIdentifier : true;
  return ids && a.startedAt === b.startedAt && a.databaseOid === b.databaseOid && a.database === b.database;
}

/** host:port/database (or the socket file), never a user or a password. */
function side(t: DbTarget): string {
  return `${whereOf(t)}/${t.database}`;
}

const ESCAPE = 'DIRECT_URL_DIFFERENT_DATABASE=1';
const NEXT = 'then run: npx zx scripts/preflight.ts';

type Settings = Pick<
  Config,
  'db' | 'migrationDb' | 'directUrlDifferentDatabase' | 'ssl' | 'sslCa' | 'connectTimeoutMs'
>;

async function identityAt(target: DbTarget, config: Settings, command: string): Promise<DatabaseIdentity> {
  const client = await connect(target, config, { applicationName: `upkit ${command}` });
  try {
    return await readDatabaseIdentity(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Refuses (exit 2) a DIRECT_URL that reaches another server or database than DATABASE_URL,
 * unless DIRECT_URL_DIFFERENT_DATABASE=1 says so, which is then reported as a warning. A
 * DIRECT_URL that cannot be connected to fails with the usual connection error. A DATABASE_URL
 * that cannot be reached from here (a pooler on the containers' network) leaves only the names:
 * names that differ are refused, names that agree pass with a warning that nothing was proven.
 */
export async function checkDirectUrl(
  config: Settings,
  log: Logger,
  report: ReportBuilder,
  command: string,
  options: { unreachable?: 'refuse' | 'warn' } = {},
): Promise<void> {
  const db = config.db;
  const direct = config.migrationDb;
  if (direct === db) return;
  const warn = (code: string, message: string, hint: string) => {
    report.finding('warning', code, message, hint);
    log.warn(message);
    log.info(`  → ${hint}`);
  };
  let directId: DatabaseIdentity;
  try {
    directId = await identityAt(direct, config, command);
  } catch (err) {
    // A command that puts a stopped restore right (restore --recover) or tells what state the
    // database is in (status) meets a database that refuses connections on purpose: it goes on
    // and says what it finds; the comparison is left to the next command.
    if (!isUpkitError(err) || options.unreachable !== 'warn') throw err;
    warn(
      'config.direct-url-unchecked',
      `could not check that DIRECT_URL (${side(direct)}) ` +
        `and DATABASE_URL (${side(db)}) reach the same database: ${err.message}`,
      `${command} goes on without it; once the database accepts connections, ` +
        `run: npx zx scripts/preflight.ts to have it checked`,
    );
    return;
  }
  let dbId: DatabaseIdentity;
  try {
    dbId = await identityAt(db, config, command);
  } catch (err) {
    if (!isUpkitError(err)) throw err;
    if (direct.database !== db.database && !config.directUrlDifferentDatabase) {
      throw new UpkitError({
        code: 'config.direct-url-mismatch',
        exit: 'usage',
        message:
          `DIRECT_URL (${side(direct)}) and DATABASE_URL (${side(db)}) name different databases, ` +
          `and DATABASE_URL cannot be connected to from here to show they are one (${err.message})`,
        hint:
          `make DIRECT_URL and DATABASE_URL name the same database, ` +
          `or, if they differ on purpose, set ${ESCAPE}; ${NEXT}`,
      });
    }
    warn(
      'config.direct-url-unchecked',
      `could not check that DIRECT_URL (${side(direct)}) ` +
        `and DATABASE_URL (${side(db)}) reach the same database: ${err.message}`,
      `run upkit where DATABASE_URL can be reached to have it checked; ${NEXT}`,
    );
    return;
  }
  if (sameDatabase(directId, dbId)) {
    log.debug(`DIRECT_URL and DATABASE_URL reach the same database (${dbId.database}, oid ${dbId.databaseOid})`);
    return;
  }
  const why =
    directId.startedAt === dbId.startedAt && directId.systemIdentifier === dbId.systemIdentifier
      ? 'different databases of one server'
      : directId.systemIdentifier !== null && directId.systemIdentifier === dbId.systemIdentifier
        ? 'different servers of one cluster (a standby or a copy)'
        : 'different servers';
  const message =
    `DIRECT_URL (${side(direct)}) and DATABASE_URL (${side(db)}) reach ${why}: ` +
    `migrations would run on one database and Pulse would use another`;
  if (config.directUrlDifferentDatabase) {
    warn(
      'config.direct-url-different',
      message,
      `${ESCAPE} says this is on purpose; remove it once both name the same database`,
    );
    return;
  }
  throw new UpkitError({
    code: 'config.direct-url-mismatch',
    exit: 'usage',
    message,
    hint:
      `make DIRECT_URL and DATABASE_URL name the same database, ` +
      `or, if they differ on purpose, set ${ESCAPE}; ${NEXT}`,
  });
}
