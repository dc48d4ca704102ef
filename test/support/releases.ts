// Builds a database at any Pulse release the way real installs got there: v1.x by the
// legacy files in order (as operators ran them by hand), v2.x by drizzle-orm's own
// migrator up to that entry, with 0002's concurrent index handled as an operator would
// (drizzle runs every pending migration in one transaction, where CREATE INDEX
// CONCURRENTLY fails, so the operator ran that file statement by statement and recorded
// it in drizzle's ledger by hand). Then the data of that release.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { Client } from 'pg';
import { applySeed, RELEASES, releaseIndex, type Release } from '../../drizzle/seed.ts';
import { readMigrations, type DrizzleMigration } from '../../lib/drizzle/journal.ts';
import { readLegacyManifest } from '../../lib/legacy/manifest.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { connectTo, freshDatabase } from './database.ts';
import { ROOT } from './cli.ts';
import { fillData, SMALL, type DataSize } from './fixtureData.ts';

export const DRIZZLE_DIR = path.join(ROOT, 'drizzle');
export const LEGACY_DIR = path.join(ROOT, 'legacy-sql');

export type FixtureRelease = 'empty' | Release;
export const FIXTURE_RELEASES: readonly FixtureRelease[] = ['empty', ...RELEASES];

/** The drizzle journal entry that brings a database to each v2 release. */
export const DRIZZLE_RELEASE_ENTRY: Partial<Record<Release, number>> = { 'v2.0': 0, 'v2.1': 1, 'v2.2': 2, 'v2.3': 3 };

export function legacyFiles() {
  return readLegacyManifest(LEGACY_DIR).files;
}

/** As `psql -f` would: the whole file in one go. */
export async function applyLegacyFile(client: Pick<Client, 'query'>, file: { text: string }): Promise<void> {
  await client.query(file.text);
}

/** A copy of the drizzle folder whose journal stops at entry `last`, for drizzle's migrator. */
export function drizzleFolderUpTo(last: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-drizzle-'));
  cpSync(DRIZZLE_DIR, dir, { recursive: true });
  const journalPath = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: unknown[] };
  journal.entries = journal.entries.slice(0, last + 1);
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  return dir;
}

export async function drizzleMigrateUpTo(client: Client, last: number): Promise<void> {
  await migrate(drizzle(client), { migrationsFolder: drizzleFolderUpTo(last) });
}

/** What an operator did for a migration drizzle could not run: each statement on its own, then the ledger row. */
export async function applyDrizzleByHand(client: Pick<Client, 'query'>, m: DrizzleMigration): Promise<void> {
  for (const statement of m.statements) if (statement.trim()) await client.query(statement);
  await client.query('create schema if not exists drizzle');
  await client.query(
    'create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)',
  );
  await client.query('insert into drizzle.__drizzle_migrations (hash, created_at) values ($1, $2)', [m.hash, m.when]);
}

export async function buildSchema(client: Client, release: FixtureRelease): Promise<void> {
  if (release === 'empty') return;
  const target = releaseIndex(release);
  if (target <= releaseIndex('v1.4')) {
    for (const file of legacyFiles().filter((f) => releaseIndex(f.release as Release) <= target))
      await applyLegacyFile(client, file);
    return;
  }
  const last = DRIZZLE_RELEASE_ENTRY[release]!;
  const migrations = readMigrations(DRIZZLE_DIR);
  const concurrent = migrations.findIndex((m) => /\bCONCURRENTLY\b/i.test(m.text));
  if (concurrent !== -1 && concurrent <= last) {
    if (concurrent > 0) await drizzleMigrateUpTo(client, concurrent - 1);
    await applyDrizzleByHand(client, migrations[concurrent]!);
  }
  await drizzleMigrateUpTo(client, last);
  // The application seeds its roles, permissions and flags when it starts.
  await applySeed(client, release);
}

export interface BuildOptions {
  /** Data to fill in; false for the schema alone. */
  data?: DataSize | false;
}

export async function buildRelease(client: Client, release: FixtureRelease, options: BuildOptions = {}): Promise<void> {
  await buildSchema(client, release);
  const data = options.data ?? SMALL;
  if (release !== 'empty' && data) await fillData(client, release, data);
}

let freshFingerprint: Promise<string[]> | undefined;

/** The schema of a fresh install at the latest release (built once per test worker). */
export function freshInstallFingerprint(): Promise<string[]> {
  freshFingerprint ??= (async () => {
    const db = await freshDatabase();
    const c = await connectTo(db.url);
    try {
      await buildRelease(c, 'v2.3', { data: false });
      return await schemaFingerprint(c);
    } finally {
      await c.end();
      await db.drop();
    }
  })();
  return freshFingerprint;
}
