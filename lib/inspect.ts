// Reads everything the plan needs from the database, changing nothing: server, detected
// release, both ledgers, unfinished migration parts, earlier runs, how the live schema
// compares with the baseline snapshot, which tables hold rows, and missing seed data.
import type { Client } from 'pg';
import { verifyDatabase } from '../verify/engine.ts';
import type { Config } from './config.ts';
import { TARGET_SCHEMA } from './config.ts';
import type { Content } from './content.ts';
import { withClient } from './db.ts';
import { readMigrations } from './drizzle/journal.ts';
import { UpkitError } from './errors.ts';
import { readDrizzleLedger, readLegacyLedger, readParts, readRuns } from './ledger.ts';
import type { LiveCatalog } from './lint.ts';
import type { Inspection } from './plan.ts';
import { detectInstall } from './profile.ts';
import { releaseName, type Profile } from './profileTypes.ts';
import { searchPathSchemas } from './pgOptions.ts';
import { sqlIdent } from './quote.ts';
import { readRepeatableLedger, repeatableStates, REPEATABLE_LEDGER } from './repeatable/state.ts';
import { releaseTablesElsewhere, schemasAhead, type Detection } from './release.ts';

/** Schema differences (errors only: hand-added objects do not count) from drizzle entry `entry`'s snapshot. */
export async function snapshotDifferences(
  client: Pick<Client, 'query'>,
  drizzleDir: string,
  entry: number,
): Promise<string[]> {
  const result = await verifyDatabase(client, { drizzleDir, snapshotEntry: entry, checks: ['schema'] });
  return result.findings.filter((f) => f.severity === 'error').map((f) => f.message);
}

/**
 * What the lint needs to know of the data (lib/lint.ts): every relation, type and schema
 * outside the system's, and which tables hold a row (one `exists` each, one round trip; a
 * table this role may not read, a foreign table, one another session locks exclusively, or
 * one whose rows row level security may hide from this session (`row_security_active`: its
 * policies filter the probe, so no row seen says nothing) is unknown: taken to hold rows).
 */
async function readLive(
  client: Pick<Client, 'query'>,
): Promise<{ live: LiveCatalog; tablesWithRows: Set<string>; empty: boolean }> {
  const system =
    `n.nspname not in ('pg_catalog', 'information_schema') ` +
    `and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%'`;
  const { rows } = await client.query<{ schema: string; name: string; kind: string; readable: boolean; own: boolean }>(
    `select n.nspname as schema, c.relname as name, c.relkind::text as kind,
            has_schema_privilege(n.oid, 'USAGE') and has_table_privilege(c.oid, ` +
      `'SELECT') and not (c.relkind in ('r', 'p') and row_security_active(c.oid)) as readable,
            n.nspname not in ('upkit', 'drizzle') and not exists (select 1 from pg_depend ` +
      `d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e') as own
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where ${system} and c.relkind in ('r', 'p', 'v', 'm', 'S', 'i', 'I', 'f') order by 1, 2`,
  );
  const types = await client.query<{ key: string }>(
    `select n.nspname || '.' || t.typname as key from pg_type t ` +
      `join pg_namespace n on n.oid = t.typnamespace where ${system}`,
  );
  const schemas = await client.query<{ name: string }>(`select n.nspname as name from pg_namespace n where ${system}`);
  const tables = rows.filter((r) => r.kind === 'r' || r.kind === 'p' || r.kind === 'f');
  const { filled, unread } = await probeRows(
    client,
    tables.filter((r) => r.kind !== 'f' && r.readable),
  );
  const probed = tables.filter((r) => r.kind !== 'f' && r.readable && !unread.has(`${r.schema}.${r.name}`));
  const key = (r: { schema: string; name: string }) => `${r.schema}.${r.name}`;
  const unknown = new Set(tables.filter((r) => !probed.includes(r)).map(key));
  const live: LiveCatalog = {
    relations: new Set(rows.map(key)),
    tables: new Set(tables.map(key)),
    types: new Set(types.rows.map((t) => t.key)),
    schemas: new Set(schemas.rows.map((r) => r.name)),
    holdsData: tables.some((r) => r.own && (filled.has(key(r)) || unknown.has(key(r)))),
  };
  const tablesWithRows = new Set([...filled, ...unknown]);
  const own = new Set(await appSchemas(client));
  return { live, tablesWithRows, empty: !rows.some((r) => own.has(r.schema) && (r.kind === 'r' || r.kind === 'p')) };
}

/**
 * The schemas an install of the app lives in: those of the sessions' search_path that exist
 * (`public` for Pulse; for an app, its own list, "$user" read as the role), not upkit's and
 * drizzle's ledgers. Whether the database is empty, or a fresh install, is judged there, and
 * not over every schema: a database shared with other software (an auth or storage schema of
 * a hosted PostgreSQL, another app's schema) holds tables that are no install of this app.
 */
export async function appSchemas(client: Pick<Client, 'query'>): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `select s::text as name from unnest(current_schemas(false)) as s where s not in ('upkit', 'drizzle')`,
  );
  return rows.map((r) => r.name);
}

/** Tables another session holds (or queues for) an exclusive lock on, prepared transactions included. */
async function exclusivelyLocked(client: Pick<Client, 'query'>): Promise<Set<string>> {
  const { rows } = await client.query<{ key: string }>(
    `select distinct n.nspname || '.' || c.relname as key
       from pg_locks l join pg_class c on c.oid = l.relation join pg_namespace n on n.oid = c.relnamespace
      where l.locktype = 'relation' and l.mode = 'AccessExclusiveLock' and l.pid is distinct from pg_backend_pid()
        and l.database = (select oid from pg_database where datname = current_database())`,
  );
  return new Set(rows.map((r) => r.key));
}

/** How long the row probe waits for a table lock before it reads the locks again (ms). */
const PROBE_LOCK_WAIT_MS = 200;

/**
 * Which of `tables` hold a row: one `exists` each, in one round trip. A table another session
 * locks exclusively would hold the plan up until that transaction ends, so it is not read
 * (`unread`: taken to hold rows, as an unreadable one is). Locks are read first; a lock taken
 * between that read and the probe ends the probe after a short wait (a savepoint with its own
 * lock_timeout), the locks are read again and the rest probed, a few times at most; whatever
 * is still unread then counts as holding rows. Runs inside the caller's transaction.
 */
export async function probeRows(
  client: Pick<Client, 'query'>,
  tables: ReadonlyArray<{ schema: string; name: string }>,
  lockedFirst?: ReadonlySet<string>,
): Promise<{ filled: Set<string>; unread: Set<string> }> {
  const key = (r: { schema: string; name: string }) => `${r.schema}.${r.name}`;
  const unread = new Set<string>();
  const filled = new Set<string>();
  let locked = lockedFirst ?? (await exclusivelyLocked(client));
  let rest = [...tables];
  for (let attempt = 0; rest.length; attempt++) {
    for (const r of rest) if (locked.has(key(r))) unread.add(key(r));
    rest = rest.filter((r) => !locked.has(key(r)));
    if (!rest.length) break;
    if (attempt === 4) {
      for (const r of rest) unread.add(key(r));
      break;
    }
    const sql = rest
      .map((r, i) => `select ${i} as i where exists (select 1 from ${client_ident(r.schema)}.${client_ident(r.name)})`)
      .join(' union all ');
    await client.query('savepoint upkit_probe');
    try {
      // Local to the savepoint: rolled back with it, and set back below when the probe succeeds.
      const before = (await client.query<{ v: string }>(`select current_setting('lock_timeout') as v`)).rows[0]!.v;
      await client.query(`select set_config('lock_timeout', $1, true)`, [`${PROBE_LOCK_WAIT_MS}ms`]);
      const found = (await client.query<{ i: number }>(sql)).rows;
      await client.query(`select set_config('lock_timeout', $1, true)`, [before]);
      await client.query('release savepoint upkit_probe');
      for (const f of found) filled.add(key(rest[f.i]!));
      rest = [];
    } catch (err) {
      await client.query('rollback to savepoint upkit_probe');
      await client.query('release savepoint upkit_probe');
      if ((err as { code?: string }).code !== '55P03') throw err;
      locked = await exclusivelyLocked(client);
    }
  }
  return { filled, unread };
}

function client_ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The schemas a session's search_path lists, in order, "$user" read as the role (PostgreSQL skips those that do not
 * exist).
 */
export function sessionSearchPath(value: string, role: string): string[] {
  return searchPathSchemas(value).map((s) => (s === '$user' ? role : s));
}

type SchemaSettings = Partial<Pick<Config, 'db' | 'migrationDb'>>;

/**
 * Refuses (exit 3, nothing changed) a database whose install (of a profile with release
 * probes: Pulse) is not all in the schema
 * upkit works in: an install in another schema (upkit would install a second one beside it),
 * or Pulse tables in a schema that the app's sessions find before it (named like the role,
 * first in the default "$user", public), which the app would read instead of the real ones.
 */
export async function assertOneInstall(
  client: Pick<Client, 'query'>,
  config: SchemaSettings,
  profile: Profile,
  detection: Detection,
): Promise<void> {
  const probes = profile.releaseProbes;
  if (!probes) return;
  const label = profile.label ?? profile.name;
  const target = config.migrationDb?.schema ?? TARGET_SCHEMA;
  const tagHashes = new Map(readMigrations(profile.drizzleDir).map((m) => [m.tag, m.hash]));
  const copies = await releaseTablesElsewhere(client, probes, tagHashes, target);
  if (copies.length === 0) return;
  const probeTables = [...new Set(probes.flatMap((p) => p.requires.tables ?? []))];
  const own = (
    await client.query<{ n: number }>(
      `select count(*)::int as n from pg_class where relnamespace = ` +
        `to_regnamespace($1)::oid and relkind in ('r', 'p') and relname = any($2::text[])`,
      [target, probeTables],
    )
  ).rows[0]!.n;
  const dryRun = 'then run: npx zx upgrade.ts --dry-run';
  // An install elsewhere (a release's tables, not just a table named like one of the app's).
  const install = copies.find((c) => c.release !== null);
  if (detection.release === null && own === 0 && install) {
    const best = install;
    throw new UpkitError({
      code: 'schema.elsewhere',
      exit: 'refused',
      message:
        `found ${releaseName(profile, best.release!)} in schema ${best.schema}, ` +
        `but upkit is set for schema ${target}, where there is none`,
      hint:
        `upkit installs and upgrades ${label} in schema ${target} only: move the install there (ALTER ` +
        `SCHEMA ${sqlIdent(target)} RENAME TO ${sqlIdent(`${target}_unused`)}; ALTER SCHEMA ${sqlIdent(best.schema)}` +
        ` RENAME TO ${sqlIdent(target)};) and point the app's search_path at ${target}, ${dryRun}`,
    });
  }
  const roles = (await client.query<{ role: string }>('select current_user as role')).rows.map((r) => r.role);
  for (const t of [config.db, config.migrationDb]) if (t) roles.push(t.user);
  const ahead = await schemasAhead(client, roles, target);
  const shadow = copies.find((c) => ahead.has(c.schema));
  if (!shadow) return;
  const list = shadow.tables.map((t) => `${sqlIdent(shadow.schema)}.${sqlIdent(t)}`).join(', ');
  throw new UpkitError({
    code: 'schema.split',
    exit: 'refused',
    message:
      `${label} is split across schemas: ${shadow.schema} holds ${shadow.tables.length} of its tables (` +
      `${shadow.filled ? 'with rows' : 'all empty'}) ` +
      `${own > 0 ? `besides the install in ${target}` : `while ${target} has none yet`}; ` +
      `schema ${shadow.schema} is ${ahead.get(shadow.schema)}, so the app would use those tables`,
    hint: shadow.filled
      ? `move the rows you need into ${target}'s tables, then remove them: DROP TABLE ${list}; ${dryRun}`
      : `they hold no rows: remove them with DROP TABLE ${list}; ${dryRun}`,
  });
}

/**
 * Preflight's look at the schema: where sessions go, and that the install is all there (throws as assertOneInstall).
 */
export async function schemaCheck(config: Config, profile: Profile): Promise<string> {
  return withClient(
    config.migrationDb,
    config,
    async (c) => {
      const detection = await detectInstall(c, profile);
      await assertOneInstall(c, config, profile, detection);
      const schema = config.migrationDb.schema ?? TARGET_SCHEMA;
      const pinned = config.migrationDb.app
        ? `search_path ${config.migrationDb.searchPath ?? "the server's default"}`
        : schema;
      return (
        `sessions pinned to ${pinned}; ` +
        `${detection.release ? `${releaseName(profile, detection.release)} there` : 'no install there yet'}`
      );
    },
    { applicationName: 'upkit preflight' },
  );
}

export async function inspect(
  client: Pick<Client, 'query'>,
  config: SchemaSettings,
  content: Content,
): Promise<Inspection> {
  const { rows } = await client.query<{
    version: string;
    num: string;
    db: string;
    schema: string | null;
    path: string;
    role: string;
  }>(
    `select current_setting('server_version') as version, current_setting('server_version_num') ` +
      `as num, current_database() as db, current_schema() as schema,
            current_setting('search_path') as path, current_user as role`,
  );
  const { profile } = content;
  const detection = await detectInstall(client, profile);
  await assertOneInstall(client, config, profile, detection);
  const [drizzleLedger, legacyLedger, parts, runs, filled] = [
    await readDrizzleLedger(client),
    await readLegacyLedger(client),
    await readParts(client),
    await readRuns(client),
    await readLive(client),
  ];
  // Only an install of a legacy era without drizzle's ledger can need a baseline: compare it with 0000.
  const baselineDifferences =
    profile.legacy && drizzleLedger === null && !filled.empty && content.migrations.length
      ? await snapshotDifferences(client, profile.drizzleDir, 0)
      : null;
  // PostgreSQL skips a schema of the search_path this role has no USAGE on; one the run may still make stays.
  const reached = new Set(
    (await client.query<{ name: string }>(`select s::text as name from unnest(current_schemas(false)) as s`)).rows.map(
      (r) => r.name,
    ),
  );
  const gaps =
    profile.seed && !filled.empty && profile.latestRelease ? await profile.seed.gaps(client, profile.latestRelease) : 0;
  return {
    server: { version: rows[0]!.version.split(' ')[0]!, major: Math.floor(Number(rows[0]!.num) / 10000) },
    database: rows[0]!.db,
    detection,
    drizzleLedger,
    legacyLedger,
    parts,
    runs,
    baselineDifferences,
    tablesWithRows: filled.tablesWithRows,
    live: filled.live,
    schema: rows[0]!.schema ?? TARGET_SCHEMA,
    searchPath: sessionSearchPath(rows[0]!.path, rows[0]!.role).filter(
      (s) => reached.has(s) || !filled.live.schemas.has(s),
    ),
    seedGaps: gaps,
    empty: filled.empty,
    ...(content.repeatable?.length ? { repeatable: await inspectRepeatable(client, content) } : {}),
  };
}

/** Where the profile's repeatable files stand (parsing those that may apply, into content.statements). */
async function inspectRepeatable(client: Pick<Client, 'query'>, content: Content) {
  const ledger = await readRepeatableLedger(client);
  if (ledger === 'unreadable') {
    const { rows } = await client.query<{ user: string }>('select current_user as user');
    throw new UpkitError({
      code: 'repeatable.ledger_unreadable',
      exit: 'refused',
      message:
        `role ${rows[0]!.user} cannot read ${REPEATABLE_LEDGER}, ` +
        `so which repeatable files were applied is unknown`,
      hint:
        `run as an administrator: GRANT USAGE ON SCHEMA upkit TO ${sqlIdent(rows[0]!.user)}` +
        `; GRANT SELECT, INSERT, UPDATE ON ${REPEATABLE_LEDGER} TO ` +
        `${sqlIdent(rows[0]!.user)}; then run the upgrade again; nothing was changed`,
    });
  }
  return repeatableStates(client, content.repeatable ?? [], content.statements, ledger);
}
