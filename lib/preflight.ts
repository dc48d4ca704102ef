// Read-only readiness checks (DESIGN.md): configuration, connection, server version,
// privileges, a usable pg_dump, room for a backup, and compose when configured. Each check
// is a step and a finding; any error means exit 3 and nothing was changed.
import type { Config, DbTarget } from './config.ts';
import { describeTarget } from './config.ts';
import { connect, type Client } from './db.ts';
import { preflightRestoreCheck } from './backup/leftovers.ts';
import { isUpkitError, UpkitError } from './errors.ts';
import type { Logger } from './log.ts';
import { listVerifiedBackups } from './backup/files.ts';
import { assertRoomForBackup, estimateBackupBytes, existingAncestor, formatBytes } from './backup/space.ts';
import { chooseDumper } from './backup/strategy.ts';
import { detectCompose } from './compose.ts';
import { findBinaries, type PgBinary } from './pgTools.ts';
import { schemaCheck } from './inspect.ts';
import type { ReportBuilder } from './report.ts';
import { sqlIdent } from './quote.ts';
import { readWriteFacts, writeProblems, type WriteFacts } from './checks/role.ts';
import { pendingChangeProblems } from './checks/preflight.ts';
import type { Profile } from './profileTypes.ts';
import type { Problem } from './plan.ts';

export const MIN_SERVER_MAJOR = 14;

export interface ServerFacts {
  version: string;
  major: number;
  user: string;
  superuser: boolean;
  canCreateInDatabase: boolean;
  canCreateInPublic: boolean;
  databaseBytes: number;
  /** Whether the session can write at all (a standby cannot; nor a role whose transactions start read-only). */
  write: WriteFacts;
  /** What this role lacks on the ledgers' schemas (drizzle's and upkit's), e.g. `USAGE on schema drizzle`. */
  ledgerAccess: LedgerAccess[];
  /** Tables where row level security applies to this role: pg_dump, as this role, refuses them. */
  rowSecurity: string[];
}

/** One thing missing on a ledger schema upkit reads and writes. */
export interface LedgerAccess {
  schema: string;
  missing: string;
  /** Whether it stops upkit from reading the ledger (planning, a dry run), not only from recording. */
  read: boolean;
}

/** The schemas whose tables upkit reads before it plans and writes when it records. */
const LEDGER_SCHEMAS = ['drizzle', 'upkit'];

async function readLedgerAccess(client: Client): Promise<LedgerAccess[]> {
  const { rows } = await client.query<LedgerAccess>(
    `select n.nspname as schema, format('USAGE on schema %s', quote_ident(n.nspname)) as missing, true as read
       from pg_namespace n
      where n.nspname = any($1) and not has_schema_privilege(n.oid, 'USAGE')
     union all
     select n.nspname, format('%s on %s.%s', array_to_string(m.privs, ', ` +
      `'), quote_ident(n.nspname), quote_ident(c.relname)), 'SELECT' = any(m.privs)
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       cross join lateral (
         select array(select p from unnest(case c.relkind when 'S' ` +
      `then array['USAGE'] else array['SELECT', 'INSERT', 'UPDATE'] end) p
                       where not case c.relkind when 'S' then ` +
      `has_sequence_privilege(c.oid, p) else has_table_privilege(c.oid, p) end) as privs
       ) m
      where n.nspname = any($1) and has_schema_privilege(n.oid, ` +
      `'USAGE') and c.relkind in ('r', 'p', 'S') and cardinality(m.privs) > 0
      order by 1, 2`,
    [LEDGER_SCHEMAS],
  );
  return rows;
}

/**
 * A role that cannot read or write the ledgers (drizzle's or upkit's schema made by another
 * role): found before the plan reads them, exit 3, with the GRANTs an administrator runs.
 */
export function ledgerAccessError(
  facts: Pick<ServerFacts, 'user' | 'superuser' | 'ledgerAccess'>,
  need: 'read' | 'write' = 'write',
): UpkitError | undefined {
  const lacking = facts.ledgerAccess.filter((a) => need === 'write' || a.read);
  if (facts.superuser || lacking.length === 0) return undefined;
  const schemas = [...new Set(lacking.map((a) => a.schema))];
  const role = sqlIdent(facts.user);
  const grants = schemas.map(
    (n) =>
      `GRANT USAGE ON SCHEMA ${sqlIdent(n)} TO ${role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES ` +
      `IN SCHEMA ${sqlIdent(n)} TO ${role}; GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${sqlIdent(n)} TO ${role};`,
  );
  return new UpkitError({
    code: 'preflight.ledger_access',
    exit: 'refused',
    message: `role "${facts.user}" cannot use upkit's ledgers: it lacks ${lacking.map((a) => a.missing).join(', ')}`,
    hint:
      `run as an administrator: ${grants.join(' ')} (or connect as the role ` +
      `that owns ${schemas.map(sqlIdent).join(' and ')}); nothing was changed`,
  });
}

export async function readServerFacts(client: Client): Promise<ServerFacts> {
  const { rows } = await client.query<{
    version: string;
    num: string;
    usr: string;
    superuser: boolean;
    db_create: boolean;
    public_create: boolean;
    bytes: string;
  }>(`select current_setting('server_version') as version,
            current_setting('server_version_num') as num,
            current_user as usr,
            (select rolsuper from pg_roles where rolname = current_user) as superuser,
            has_database_privilege(current_database(), 'CREATE') as db_create,
            coalesce(has_schema_privilege('public', 'CREATE'), false) as public_create,
            pg_database_size(current_database())::text as bytes`);
  const r = rows[0]!;
  return {
    version: r.version.split(' ')[0]!,
    major: Math.floor(Number(r.num) / 10000),
    user: r.usr,
    superuser: r.superuser,
    canCreateInDatabase: r.db_create,
    canCreateInPublic: r.public_create,
    databaseBytes: Number(r.bytes),
    write: await readWriteFacts(client),
    ledgerAccess: await readLedgerAccess(client),
    rowSecurity: (
      await client.query<{ name: string }>(
        `select c.oid::regclass::text as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.relkind in ('r', 'p') and c.relrowsecurity and n.nspname not in ('pg_catalog', 'information_schema')
            and row_security_active(c.oid) order by 1`,
      )
    ).rows.map((r) => r.name),
  };
}

/**
 * pg_dump runs with row_security off and refuses a table whose policies apply to its role
 * (FORCE ROW LEVEL SECURITY, or a role that neither owns the table nor bypasses RLS): a backup
 * taken as this role would fail on it. Said before anything starts, with what lets it through.
 */
export function rowSecurityBackupError(facts: Pick<ServerFacts, 'rowSecurity' | 'user'>): UpkitError | undefined {
  if (!facts.rowSecurity.length) return undefined;
  const shown =
    facts.rowSecurity.length > 5
      ? `${facts.rowSecurity.slice(0, 5).join(', ')} and ${facts.rowSecurity.length - 5} more`
      : facts.rowSecurity.join(', ');
  return new UpkitError({
    code: 'backup.row_security',
    exit: 'refused',
    message:
      `pg_dump, as ${facts.user}, cannot back up ${shown}: row level security ` +
      `applies to the role there, and pg_dump refuses to dump rows a policy could hide`,
    hint:
      `as an administrator: ALTER ROLE ${sqlIdent(facts.user)} BYPASSRLS; ` +
      `(or take your own snapshot and run with --no-backup); nothing was changed`,
  });
}

/** PostgreSQL older than upkit supports: exit 3. */
export function serverVersionError(facts: Pick<ServerFacts, 'version' | 'major'>): UpkitError | undefined {
  if (facts.major >= MIN_SERVER_MAJOR) return undefined;
  return new UpkitError({
    code: 'preflight.server_version',
    exit: 'refused',
    message: `PostgreSQL ${facts.version} is older than ${MIN_SERVER_MAJOR}, the oldest upkit supports`,
    hint: `upgrade the server to PostgreSQL ${MIN_SERVER_MAJOR} or newer first; nothing was changed`,
  });
}

/** A role that cannot create schemas and tables: exit 3, with the GRANT an administrator runs. */
export function privilegesError(facts: ServerFacts, database: string): UpkitError | undefined {
  if (facts.superuser || (facts.canCreateInDatabase && facts.canCreateInPublic)) return undefined;
  const missing = [
    !facts.canCreateInDatabase && `CREATE on database ${database}`,
    !facts.canCreateInPublic && 'CREATE on schema public',
  ]
    .filter(Boolean)
    .join(' and ');
  return new UpkitError({
    code: 'preflight.privileges',
    exit: 'refused',
    message: `role "${facts.user}" lacks ${missing}`,
    hint:
      `run as an administrator: GRANT CREATE ON DATABASE ${sqlIdent(database)} TO ${sqlIdent(facts.user)}` +
      `; GRANT CREATE ON SCHEMA public TO ${sqlIdent(facts.user)}; (or connect as the database owner)`,
  });
}

/**
 * What an upgrade or install checks before it writes anything (exit 3, nothing changed): the
 * server's version, the role's privileges, and, when a backup will be taken, a pg_dump that
 * fits and a backup directory with room. The same checks and messages as preflight's.
 */
export async function assertReadyToWrite(client: Client, config: Config, options: { backup: boolean }): Promise<void> {
  const facts = await readServerFacts(client);
  const tooOld = serverVersionError(facts);
  if (tooOld) throw tooOld;
  const denied = privilegesError(facts, config.migrationDb.database) ?? ledgerAccessError(facts);
  if (denied) throw denied;
  const [readOnly] = writeProblems(facts.write);
  if (readOnly) throw new UpkitError({ ...readOnly, exit: 'refused' });
  if (!options.backup) return;
  const dumper = await chooseDumper(config, facts.major);
  // pg_dump inside the database's container connects as that container's user, not this role.
  const hidden = dumper.kind === 'local' ? rowSecurityBackupError(facts) : undefined;
  if (hidden) throw hidden;
  const previous = listVerifiedBackups(config.backupDir, config.migrationDb.database)[0]?.manifest;
  assertRoomForBackup(config.backupDir, estimateBackupBytes(facts.databaseBytes, previous));
}

export interface PreflightResult {
  ok: boolean;
  server?: ServerFacts;
  pgDump?: PgBinary;
}

class CheckFailed extends Error {}

export interface PreflightOptions {
  /** The application whose install and pending migrations are checked (the commands choose it). */
  profile: Profile;
  /**
   * false with `--no-backup`: the operator's own snapshot replaces upkit's backup, so pg_dump and backup room are not
   * checked.
   */
  backup?: boolean;
}

const NO_BACKUP_SKIP = "--no-backup: the operator's own snapshot replaces upkit's backup";

export async function runPreflight(
  config: Config,
  log: Logger,
  report: ReportBuilder,
  options: PreflightOptions,
): Promise<PreflightResult> {
  const result: PreflightResult = { ok: true };
  const fail = (code: string, message: string, hint: string): never => {
    report.finding('error', code, message, hint);
    result.ok = false;
    throw new CheckFailed(message);
  };
  const check = async (name: string, fn: Parameters<Logger['step']>[1]) => {
    try {
      await log.step(name, fn);
    } catch (err) {
      if (!(err instanceof CheckFailed)) throw err;
      const last = report.findings.at(-1);
      if (last?.hint) log.info(`  → ${last.hint}`);
    }
  };

  await check('configuration', async (s) => {
    s.detail(`${config.db.source}${config.envFile ? ` from ${config.envFile}` : ''}; ${describeTarget(config.db)}`);
  });

  const targets: DbTarget[] = config.migrationDb === config.db ? [config.db] : [config.db, config.migrationDb];
  for (const target of targets) {
    await check(targets.length > 1 ? `connection (${target.source})` : 'connection', async (s) => {
      let client: Client | undefined;
      try {
        client = await connect(target, config);
        const facts = await readServerFacts(client);
        if (target === config.migrationDb) result.server = facts;
        s.detail(`${describeTarget(target)}, PostgreSQL ${facts.version}`);
      } catch (err) {
        if (isUpkitError(err)) fail(`preflight.${err.code.replace(/^db\./, 'db_')}`, err.message, err.hint ?? '');
        throw err;
      } finally {
        await client?.end().catch(() => {});
      }
    });
  }
  const server = result.server;
  await check('interrupted restore', async (s) => {
    const stopped = await preflightRestoreCheck(config, server !== undefined, s, log, report);
    if (stopped) fail(stopped.code, stopped.message, stopped.hint!);
  });

  await check('server version', async (s) => {
    if (!server) return s.skip('no connection');
    const tooOld = serverVersionError(server);
    if (tooOld) fail(tooOld.code, tooOld.message, tooOld.hint!);
    s.detail(`${server.version} (>= ${MIN_SERVER_MAJOR})`);
  });

  await check('privileges', async (s) => {
    if (!server) return s.skip('no connection');
    const [readOnly] = writeProblems(server.write);
    if (readOnly)
      fail(
        readOnly.code,
        readOnly.message,
        readOnly.hint.replace('run the upgrade again', 'run: npx zx scripts/preflight.ts'),
      );
    if (server.superuser) return s.detail(`${server.user} is a superuser`);
    const denied = privilegesError(server, config.migrationDb.database) ?? ledgerAccessError(server);
    if (denied) fail(denied.code, denied.message, denied.hint!);
    s.detail(`${server.user} can create schemas and tables`);
  });

  // Both read the ledgers: where the role may not, the privileges line above has said so.
  const ledgersUnreadable = server !== undefined && ledgerAccessError(server, 'read') !== undefined;
  await check('schema', async (s) => {
    if (!server) return s.skip('no connection');
    if (ledgersUnreadable) return s.skip("the role cannot read upkit's ledgers");
    await schemaCheck(config, options.profile).then(
      (d) => s.detail(d),
      (err: unknown) => (isUpkitError(err) ? fail(err.code, err.message, err.hint ?? '') : Promise.reject(err)),
    );
  });
  // What the next upgrade would meet before its first write; one line each after the first.
  const more: Problem[] = [];
  await check('pending changes', async (s) => {
    if (!server) return s.skip('no connection');
    if (writeProblems(server.write).length) return s.skip('the role cannot write');
    if (ledgersUnreadable) return s.skip("the role cannot read upkit's ledgers");
    const { summary, problems } = await pendingChangeProblems(config, options.profile);
    const [first, ...rest] = problems;
    more.push(...rest);
    if (first) fail(first.code, first.message, first.hint);
    s.detail(summary);
  });
  for (const p of more) {
    report.finding('error', p.code, p.message, p.hint);
    log.error(p.message);
    log.info(`  → ${p.hint}`);
  }

  await check('pg_dump', async (s) => {
    if (options.backup === false) return s.skip(NO_BACKUP_SKIP);
    if (!server) {
      const all = await findBinaries('pg_dump', config.pgBinDir);
      return s.skip(
        all.length
          ? `found ${[...new Set(all.map((b) => b.version))].join(', ')}; server version unknown`
          : 'no connection',
      );
    }
    try {
      const dumper = await chooseDumper(config, server.major);
      if (dumper.kind === 'local') result.pgDump = dumper.pgDump;
      const hidden = dumper.kind === 'local' ? rowSecurityBackupError(server) : undefined;
      if (hidden) fail(hidden.code, hidden.message, hidden.hint ?? '');
      s.detail(dumper.why);
    } catch (err) {
      if (!isUpkitError(err)) throw err;
      fail('preflight.pg_dump', err.message, err.hint ?? '');
    }
  });

  await check('backup space', async (s) => {
    if (options.backup === false) return s.skip(NO_BACKUP_SKIP);
    const dir = existingAncestor(config.backupDir);
    const previous = listVerifiedBackups(config.backupDir, config.migrationDb.database)[0]?.manifest;
    const needed = server ? estimateBackupBytes(server.databaseBytes, previous) : 0;
    try {
      const { free } = assertRoomForBackup(config.backupDir, needed);
      s.detail(
        server
          ? `${formatBytes(free)} free in ${dir}, need up to ${formatBytes(needed)}`
          : `${formatBytes(free)} free in ${dir}; database size unknown`,
      );
    } catch (err) {
      if (!isUpkitError(err)) throw err;
      fail(err.code === 'backup.disk_space' ? 'preflight.disk' : 'preflight.backup_dir', err.message, err.hint ?? '');
    }
  });

  await check('compose', async (s) => {
    if (!config.composeFile) return s.skip('COMPOSE_FILE not set');
    const cli = await detectCompose();
    if (!cli)
      fail(
        'preflight.compose',
        'COMPOSE_FILE is set but neither "docker compose" nor "docker-compose" works here',
        'install Docker Compose v2, or unset COMPOSE_FILE (and use --no-containers)',
      );
    s.detail(
      `${cli!.command}${cli!.baseArgs.length ? ` ${cli!.baseArgs.join(' ')}` : ''}` +
        ` ${cli!.version}, file ${config.composeFile}`,
    );
  });

  return result;
}
