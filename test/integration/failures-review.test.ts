// Defects found by review, against real PostgreSQL (catalogue: test/failures/hardening/review.ts).
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';
import { runUpkit } from '../support/cli.ts';
import { backupArgs, useFreshDatabase, withClientAt } from '../support/database.ts';

function withOptions(url: string, options: string): string {
  const u = new URL(url);
  u.searchParams.set('options', options);
  return u.toString();
}

describe('an app whose search_path lists several schemas', () => {
  const db = useFreshDatabase();

  it('lint.search-path-later-schema', async () => {
    const dir = writeAppFolder(
      [
        { tag: '0000_audit', sql: 'CREATE TABLE "public"."audit_log" ("id" integer PRIMARY KEY NOT NULL);' },
        { tag: '0001_drop_audit', sql: 'DROP TABLE audit_log;' },
      ],
      {},
    );
    const url = withOptions(db().url, '-c search_path=app,public');
    // At 0000 (applied by upkit itself), with rows, and schema app (first on the path) empty.
    const first = writeAppFolder([{ tag: '0000_audit', sql: 'CREATE TABLE "public"."audit_log" ("id" integer PRIMARY KEY NOT NULL);' }], { tables: Object.fromEntries([table('public', 'audit_log', [column('id', 'integer', { primaryKey: true, notNull: true })])]) });
    await withClientAt(db().url, (c) => c.query('create schema app'));
    const setup = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--no-containers', '--drizzle-dir', first], { env: { DATABASE_URL: url } });
    expect(setup.code, setup.stderr).toBe(0);
    await withClientAt(db().url, (c) => c.query('insert into public.audit_log values (1), (2)'));
    const c = failureCase('lint.search-path-later-schema');
    const before = await dbState(db().url);
    const r = await runCase({ ...c, args: [...backupArgs(), ...c.args] }, { url, dir });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    await withClientAt(db().url, async (client) => {
      expect((await client.query('select count(*)::int as n from public.audit_log')).rows[0].n).toBe(2);
    });
  });
});
