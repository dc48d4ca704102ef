// An app whose tables live in its own schema and whose migrations name its enum unqualified,
// relying on the database's search_path (ALTER DATABASE … SET search_path), as drizzle-orm's
// own migrator does: upkit pins that search_path for every session (node's, pg_dump's) and
// verification, and installs and verifies it; an inherited PGOPTIONS still has no say.
import { describe, expect, it } from 'vitest';
import { expectCase, failureCase, runCase } from '../failures/check.ts';
import { runUpkit } from '../support/cli.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';

const MIGRATIONS = [
  {
    tag: '0000_mood',
    sql:
      'CREATE SCHEMA IF NOT EXISTS "app";\n--> statement-breakpoint\n' +
      'CREATE TYPE "app"."mood" AS ENUM(\'calm\', \'busy\');',
  },
  {
    tag: '0001_notes',
    sql: 'CREATE TABLE "app"."notes" ("id" integer PRIMARY KEY NOT NULL, "mood" mood DEFAULT \'calm\' NOT NULL);',
  },
];
const SNAPSHOT = {
  schemas: { app: 'app' },
  enums: { 'app.mood': { name: 'mood', schema: 'app', values: ['calm', 'busy'] } },
  tables: Object.fromEntries([
    table('app', 'notes', [
      column('id', 'integer', { primaryKey: true, notNull: true }),
      column('mood', 'mood', { typeSchema: 'app', notNull: true, default: "'calm'" }),
    ]),
  ]),
};

describe('an app on its own search_path', () => {
  const db = useFreshDatabase();

  async function prerequisite(): Promise<void> {
    await withClientAt(db().url, async (c) => {
      await c.query('create schema app');
      await c.query(`alter database ${c.escapeIdentifier(db().database)} set search_path = "$user", app, public`);
    });
  }

  it("installs with the database's search_path, and verify exits 0", async () => {
    await prerequisite();
    const dir = writeAppFolder(MIGRATIONS, SNAPSHOT);
    // A hostile inherited PGOPTIONS is dropped, as for Pulse.
    const env = { DATABASE_URL: db().url, PGOPTIONS: '-c search_path=pg_catalog' };
    const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Pulse/);
    const v = await runUpkit('verify/index.ts', ['--drizzle-dir', dir], { env });
    expect(v.code, v.stdout + v.stderr).toBe(0);
    await withClientAt(db().url, async (c) => {
      expect(
        (await c.query(`select to_regclass('app.notes') is not null as t, to_regclass('public.notes') is null as p`))
          .rows[0],
      ).toEqual({ t: true, p: true });
    });
  });

  it("takes the search_path from the URL's options for an app, never a refusal naming Pulse", async () => {
    await withClientAt(db().url, (c) => c.query('create schema app'));
    const dir = writeAppFolder(MIGRATIONS, SNAPSHOT);
    const url = new URL(db().url);
    url.searchParams.set('options', '-c search_path=app,public');
    const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], {
      env: { DATABASE_URL: url.toString() },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Pulse/);
    const v = await runUpkit('verify/index.ts', ['--drizzle-dir', dir], { env: { DATABASE_URL: url.toString() } });
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it('UPKIT_SEARCH_PATH names it when the server does not', async () => {
    await withClientAt(db().url, (c) => c.query('create schema app'));
    const dir = writeAppFolder(MIGRATIONS, SNAPSHOT);
    const env = { DATABASE_URL: db().url, UPKIT_SEARCH_PATH: '"$user", app, public' };
    const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
    expect(r.code, r.stderr).toBe(0);
    const v = await runUpkit('verify/index.ts', ['--drizzle-dir', dir], { env });
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it('app.search-path-setting-empty', async () => {
    const dir = writeAppFolder(MIGRATIONS, SNAPSHOT);
    const c = failureCase('app.search-path-setting-empty');
    const r = await runCase(c, { url: db().url, dir });
    expectCase(r, c, r.vars);
    await withClientAt(db().url, async (client) => {
      expect(
        (await client.query(`select count(*)::int as n from pg_namespace where nspname in ('app', 'drizzle', 'upkit')`))
          .rows[0].n,
      ).toBe(0);
    });
  });
});
