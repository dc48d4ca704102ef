// Reads everything the plan needs from the database, changing nothing: server, detected
// release, both ledgers, unfinished migration parts, earlier runs, how the live schema
// compares with the baseline snapshot, which tables hold rows, and missing seed data.
import type { Client } from 'pg';
import { LATEST_RELEASE, seedGaps, type Release } from '../drizzle/seed.ts';
import { verifyDatabase } from '../verify/engine.ts';
import type { Config } from './config.ts';
import type { Content } from './content.ts';
import { readDrizzleLedger, readLegacyLedger, readParts, readRuns } from './ledger.ts';
import type { Inspection } from './plan.ts';
import { detectInstall } from './profile.ts';

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

export async function inspect(client: Pick<Client, 'query'>, config: Pick<Config, 'drizzleDir'>, content: Content): Promise<Inspection> {
  const { rows } = await client.query<{ version: string; num: string; db: string }>(
    `select current_setting('server_version') as version, current_setting('server_version_num') as num, current_database() as db`,
  );
  const detection = await detectInstall(client, config);
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
