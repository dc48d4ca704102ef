// Reads everything the plan needs from the database, changing nothing: server, detected
// release, both ledgers, unfinished migration parts, earlier runs, how the live schema
// compares with the baseline snapshot, which tables hold rows, and missing seed data.
import type { Client } from 'pg';
import { LATEST_RELEASE, seedGaps, type Release } from '../drizzle/seed.ts';
import { verifyDatabase } from '../verify/engine.ts';
import { PULSE_RELEASE_PROBES } from '../drizzle/releases.ts';
import type { Config } from './config.ts';
import { TARGET_SCHEMA } from './config.ts';
import type { Content } from './content.ts';
import { withClient } from './db.ts';
import { readMigrations } from './drizzle/journal.ts';
import { UpkitError } from './errors.ts';
import { readDrizzleLedger, readLegacyLedger, readParts, readRuns } from './ledger.ts';
import type { Inspection } from './plan.ts';
import { detectInstall, isPulse } from './profile.ts';
import { sqlIdent } from './quote.ts';
import { releaseTablesElsewhere, schemasAhead, type Detection } from './release.ts';

/** Schema differences (errors only: hand-added objects do not count) from drizzle entry `entry`'s snapshot. */
export async function snapshotDifferences(client: Pick<Client, 'query'>, drizzleDir: string, entry: number): Promise<string[]> {
  const result = await verifyDatabase(client, { drizzleDir, snapshotEntry: entry, checks: ['schema'] });
  return result.findings.filter((f) => f.severity === 'error').map((f) => f.message);
}

async function tablesWithRows(client: Pick<Client, 'query'>): Promise<{ tables: Set<string>; empty: boolean }> {
  const { rows } = await client.query<{ name: string }>(`select c.relname as name from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') order by 1`);
  if (rows.length === 0) return { tables: new Set(), empty: true };
  const sql = rows.map((r, i) => `select ${i} as i where exists (select 1 from public.${client_ident(r.name)})`).join(' union all ');
  const { rows: filled } = await client.query<{ i: number }>(sql);
  return { tables: new Set(filled.map((f) => rows[f.i]!.name)), empty: false };
}

function client_ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

type SchemaSettings = Pick<Config, 'drizzleDir'> & Partial<Pick<Config, 'db' | 'migrationDb'>>;

/**
 * Refuses (exit 3, nothing changed) a database whose Pulse install is not all in the schema
 * upkit works in: an install in another schema (upkit would install a second one beside it),
 * or Pulse tables in a schema that the app's sessions find before it (named like the role,
 * first in the default "$user", public), which the app would read instead of the real ones.
 */
export async function assertOneInstall(client: Pick<Client, 'query'>, config: SchemaSettings, detection: Detection): Promise<void> {
  if (!isPulse(config)) return;
  const target = config.migrationDb?.schema ?? TARGET_SCHEMA;
  const tagHashes = new Map(readMigrations(config.drizzleDir).map((m) => [m.tag, m.hash]));
  const copies = await releaseTablesElsewhere(client, PULSE_RELEASE_PROBES, tagHashes, target);
  if (copies.length === 0) return;
  const probeTables = [...new Set(PULSE_RELEASE_PROBES.flatMap((p) => p.requires.tables ?? []))];
  const own = (await client.query<{ n: number }>(`select count(*)::int as n from pg_class where relnamespace = to_regnamespace($1)::oid and relkind in ('r', 'p') and relname = any($2::text[])`, [target, probeTables])).rows[0]!.n;
  const dryRun = 'then run: npx zx upgrade.ts --dry-run';
  // An install elsewhere (a release's tables, not just a table named like one of Pulse's).
  const install = copies.find((c) => c.release !== null);
  if (detection.release === null && own === 0 && install) {
    const best = install;
    throw new UpkitError({
      code: 'schema.elsewhere',
      exit: 'refused',
      message: `found Pulse ${best.release} in schema ${best.schema}, but upkit is set for schema ${target}, where there is none`,
      hint: `upkit installs and upgrades Pulse in schema ${target} only: move the install there (ALTER SCHEMA ${sqlIdent(target)} RENAME TO ${sqlIdent(`${target}_unused`)}; ALTER SCHEMA ${sqlIdent(best.schema)} RENAME TO ${sqlIdent(target)};) and point the app's search_path at ${target}, ${dryRun}`,
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
    message: `Pulse is split across schemas: ${shadow.schema} holds ${shadow.tables.length} of its tables (${shadow.filled ? 'with rows' : 'all empty'}) ${own > 0 ? `besides the install in ${target}` : `while ${target} has none yet`}; schema ${shadow.schema} is ${ahead.get(shadow.schema)}, so the app would use those tables`,
    hint: shadow.filled
      ? `move the rows you need into ${target}'s tables, then remove them: DROP TABLE ${list}; ${dryRun}`
      : `they hold no rows: remove them with DROP TABLE ${list}; ${dryRun}`,
  });
}

/** Preflight's look at the schema: where sessions go, and that the install is all there (throws as assertOneInstall). */
export async function schemaCheck(config: Config): Promise<string> {
  return withClient(config.migrationDb, config, async (c) => {
    const detection = await detectInstall(c, config);
    await assertOneInstall(c, config, detection);
    const schema = config.migrationDb.schema ?? TARGET_SCHEMA;
    const pinned = config.migrationDb.app ? `search_path ${config.migrationDb.searchPath ?? "the server's default"}` : schema;
    return `sessions pinned to ${pinned}; ${detection.release ? `${isPulse(config) ? 'Pulse ' : ''}${detection.release} there` : 'no install there yet'}`;
  }, { applicationName: 'upkit preflight' });
}

export async function inspect(client: Pick<Client, 'query'>, config: SchemaSettings, content: Content): Promise<Inspection> {
  const { rows } = await client.query<{ version: string; num: string; db: string }>(
    `select current_setting('server_version') as version, current_setting('server_version_num') as num, current_database() as db`,
  );
  const detection = await detectInstall(client, config);
  await assertOneInstall(client, config, detection);
  const [drizzleLedger, legacyLedger, parts, runs, filled] = [await readDrizzleLedger(client), await readLegacyLedger(client), await readParts(client), await readRuns(client), await tablesWithRows(client)];
  const pulse = content.profile === 'pulse';
  // Only a Pulse install without drizzle's ledger can need a baseline: compare it with 0000.
  const baselineDifferences = pulse && drizzleLedger === null && !filled.empty && content.migrations.length ? await snapshotDifferences(client, config.drizzleDir, 0) : null;
  let gaps = 0;
  if (pulse && !filled.empty) {
    const g = await seedGaps(client, LATEST_RELEASE as Release);
    gaps = g.organizationsMissingFlags + g.missingPermissions + g.missingRoles + g.adminMissingGrants;
  }
  return {
    server: { version: rows[0]!.version.split(' ')[0]!, major: Math.floor(Number(rows[0]!.num) / 10000) },
    database: rows[0]!.db,
    detection,
    drizzleLedger,
    legacyLedger,
    parts,
    runs,
    baselineDifferences,
    tablesWithRows: filled.tables,
    seedGaps: gaps,
    empty: filled.empty,
  };
}
