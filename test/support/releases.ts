// Builds a database at any Pulse release the way real installs got there: v1.x by the
// legacy files in order (as operators ran them by hand), v2.x by drizzle-orm's own
// migrator up to that entry, with 0002's concurrent index handled as an operator would
// (drizzle runs every pending migration in one transaction, where CREATE INDEX
// CONCURRENTLY fails, so the operator ran that file statement by statement and recorded
// it in drizzle's ledger by hand). Then the data of that release.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg, { type Client } from 'pg';
import { applySeed, RELEASES, releaseIndex, type Release } from '../../drizzle/seed.ts';
import { readMigrations, type DrizzleMigration } from '../../lib/drizzle/journal.ts';
import { readLegacyManifest } from '../../lib/legacy/manifest.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { connectTo, freshDatabase, replaceWithCopy, serverInfo, type TestDatabase } from './database.ts';
import { fillData, SMALL, type DataSize } from './fixtureData.ts';

// Not cli.ts's ROOT: globalSetup imports this file, outside vitest's workers.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
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
    'create table if not exists drizzle.__drizzle_migrations (id ' +
      'serial primary key, hash text not null, created_at bigint)',
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

// Template databases: globalSetup builds every fixture release once per run, with the SMALL
// data and as schema alone, and each test copies the one it starts from (CREATE DATABASE ...
// TEMPLATE) instead of replaying the SQL. A copy holds everything buildRelease() makes: the
// data is deterministic (md5-derived ids, fixed timestamps), sequences and object ownership
// and grants are inside the database, and no release sets anything at database level
// (ALTER DATABASE, COMMENT ON DATABASE, GRANT ON DATABASE), which a copy would lose. Two
// things are drawn at build time, as in any two installs: the seed's ids (gen_random_uuid())
// and its created_at (now()); the copies of one run share those of their template
// (releaseTemplates.test.ts compares a copy with a build).

const TEMPLATE_PREFIX = 'upkit_tpl_';

function templateKey(release: FixtureRelease, withData: boolean): string {
  return withData ? release : `${release}:schema`;
}

function templateName(release: Release, withData: boolean): string {
  return `${TEMPLATE_PREFIX}${release.replace('.', '_')}${withData ? '' : '_schema'}`;
}

function urlOf(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function adminSession<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  client.on('notice', () => {});
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops every release template on the server (a stale one from an earlier run too). */
export async function dropReleaseTemplates(adminUrl: string): Promise<void> {
  await adminSession(adminUrl, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `select datname from pg_database where starts_with(datname, $1) order by datname`,
      [TEMPLATE_PREFIX],
    );
    for (const { datname } of rows) {
      const name = client.escapeIdentifier(datname);
      // A template database cannot be dropped until it is a plain one again.
      await client.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE false`);
      await client.query(`DROP DATABASE ${name} WITH (FORCE)`);
    }
  });
}

/**
 * Builds each release into two templates, its schema alone and a copy of that with the SMALL
 * data, all releases at once; returns the names by key (TestServerInfo.releaseTemplates).
 */
export async function buildReleaseTemplates(adminUrl: string, bare: string): Promise<Record<string, string>> {
  const templates: Record<string, string> = {
    [templateKey('empty', true)]: bare,
    [templateKey('empty', false)]: bare,
  };
  const copy = async (name: string, from: string, fill: (client: Client) => Promise<void>) => {
    await adminSession(adminUrl, (c) =>
      c.query(`CREATE DATABASE ${c.escapeIdentifier(name)} TEMPLATE ${c.escapeIdentifier(from)}`),
    );
    await adminSession(urlOf(adminUrl, name), fill);
    // Nobody may connect: CREATE DATABASE ... TEMPLATE refuses a source with open sessions.
    await adminSession(adminUrl, (c) =>
      c.query(`ALTER DATABASE ${c.escapeIdentifier(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`),
    );
  };
  await Promise.all(
    RELEASES.map(async (release) => {
      const schema = templateName(release, false);
      const withData = templateName(release, true);
      try {
        await copy(schema, bare, (c) => buildSchema(c, release));
        await copy(withData, schema, (c) => fillData(c, release, SMALL));
      } catch (error) {
        throw new Error(`building the template of ${release} failed`, { cause: error });
      }
      templates[templateKey(release, false)] = schema;
      templates[templateKey(release, true)] = withData;
    }),
  );
  return templates;
}

/**
 * The template database holding what buildRelease(c, release, options) builds: the SMALL
 * data or the schema alone. Other data sizes have none: build those.
 */
export function releaseTemplate(release: FixtureRelease, options: BuildOptions = {}): string {
  const data = options.data ?? SMALL;
  if (data && data.users !== SMALL.users) {
    throw new Error(`no template holds ${data.users} users of ${release}: build it with buildRelease()`);
  }
  const name = serverInfo().releaseTemplates[templateKey(release, data !== false)];
  if (!name) throw new Error(`globalSetup built no template of ${release}`);
  return name;
}

/** A new database holding `release` as buildRelease() makes it, copied from its template. */
export function releaseDatabase(release: FixtureRelease, options: BuildOptions = {}): Promise<TestDatabase> {
  return freshDatabase(releaseTemplate(release, options));
}

/**
 * Makes a test's database, still as freshDatabase() made it, hold `release` as buildRelease()
 * makes it: same name and URL, copied from the release's template.
 */
export function asRelease(db: TestDatabase, release: FixtureRelease, options: BuildOptions = {}): Promise<void> {
  return replaceWithCopy(db, releaseTemplate(release, options));
}

let freshFingerprint: Promise<string[]> | undefined;

/** The schema of a fresh install at the latest release (built once per test worker). */
export function freshInstallFingerprint(): Promise<string[]> {
  freshFingerprint ??= (async () => {
    const db = await releaseDatabase('v2.3', { data: false });
    const c = await connectTo(db.url);
    try {
      return await schemaFingerprint(c);
    } finally {
      await c.end();
      await db.drop();
    }
  })();
  return freshFingerprint;
}
