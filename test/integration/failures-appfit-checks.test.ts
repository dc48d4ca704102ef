// A plain app's upgrade whose pending steps add a column and then a unique index on it: the
// checks before the first write read only what exists now (the new column holds no rows of
// the past), so the dry run and the upgrade pass; the rows already there are untouched.
import { describe, expect, it } from 'vitest';
import { runUpkit } from '../support/cli.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';

const M0 = { tag: '0000_partners', sql: 'CREATE TABLE "partners" ("id" integer PRIMARY KEY NOT NULL, "name" text);' };
const M1 = { tag: '0001_license_key', sql: 'ALTER TABLE "partners" ADD COLUMN "licenseKey" text;' };
const M2 = { tag: '0002_license_key_unique', sql: 'CREATE UNIQUE INDEX "partners_license_key_idx" ON "partners" USING btree ("licenseKey");' };

const ID = column('id', 'integer', { primaryKey: true, notNull: true });
const NAME = column('name', 'text');
const KEY = column('licenseKey', 'text');

describe('checks before the first write: columns a pending step adds', () => {
  const db = useFreshDatabase();

  it('a unique index on a column added in the same run: dry run and upgrade exit 0', async () => {
    const dir = writeAppFolder([M0], { tables: Object.fromEntries([table('public', 'partners', [ID, NAME])]) });
    const env = { DATABASE_URL: db().url };
    const first = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
    expect(first.code, first.stderr).toBe(0);
    await withClientAt(db().url, (c) => c.query(`insert into partners values (1, 'a'), (2, 'a'), (3, null)`));
    writeAppFolder([M0, M1, M2], {
      tables: Object.fromEntries([table('public', 'partners', [ID, NAME, KEY], {
        indexes: { partners_license_key_idx: { name: 'partners_license_key_idx', columns: [{ expression: 'licenseKey', isExpression: false, asc: true, nulls: 'last' }], isUnique: true, concurrently: false, method: 'btree', with: {} } },
      })]),
    }, dir);
    const dry = await runUpkit('upgrade.ts', ['--dry-run', '--drizzle-dir', dir], { env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).not.toMatch(/42703|failed/);
    const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
    expect(r.code, r.stderr).toBe(0);
    await withClientAt(db().url, async (c) => {
      expect((await c.query(`select id, name, "licenseKey" from partners order by id`)).rows).toEqual([
        { id: 1, name: 'a', licenseKey: null }, { id: 2, name: 'a', licenseKey: null }, { id: 3, name: null, licenseKey: null },
      ]);
      expect((await c.query(`select to_regclass('public.partners_license_key_idx')::text as i`)).rows[0].i).toBe('partners_license_key_idx');
    });
  });

  it('a unique index through a function a pending step creates: checked by the run, not refused', async () => {
    const dir = writeAppFolder([M0], { tables: Object.fromEntries([table('public', 'partners', [ID, NAME])]) });
    const env = { DATABASE_URL: db().url };
    expect((await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env })).code).toBe(0);
    await withClientAt(db().url, (c) => c.query(`insert into partners values (1, 'a'), (2, 'B'), (3, null)`));
    const norm = { tag: '0001_norm', sql: 'CREATE FUNCTION "norm"(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ select lower(v) $$;\n--> statement-breakpoint\nCREATE UNIQUE INDEX "partners_norm_name_idx" ON "partners" USING btree ("norm"("name"));' };
    writeAppFolder([M0, norm], {
      tables: Object.fromEntries([table('public', 'partners', [ID, NAME], {
        indexes: { partners_norm_name_idx: { name: 'partners_norm_name_idx', columns: [{ expression: '"norm"("name")', isExpression: true, asc: true, nulls: 'last' }], isUnique: true, concurrently: false, method: 'btree', with: {} } },
      })]),
    }, dir);
    const dry = await runUpkit('upgrade.ts', ['--dry-run', '--drizzle-dir', dir], { env });
    expect(dry.code, dry.stderr).toBe(0);
    const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
    expect(r.stderr).not.toMatch(/42883/);
    expect(r.code, r.stderr).toBe(0);
    await withClientAt(db().url, async (c) => {
      expect((await c.query(`select count(*)::int as n from partners`)).rows[0].n).toBe(3);
      expect((await c.query(`select to_regclass('public.partners_norm_name_idx') is not null as i`)).rows[0].i).toBe(true);
    });
  });
});
