// A plain app's upgrade whose pending steps add a column and then a unique index on it: the
// checks before the first write read only what exists now (the new column holds no rows of
// the past), so the dry run and the upgrade pass; the rows already there are untouched.
import { describe, expect, it } from 'vitest';
import { runUpkit } from '../support/cli.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';

const M0 = { tag: '0000_partners', sql: 'CREATE TABLE "partners" ("id" integer PRIMARY KEY NOT NULL, "name" text);' };
const M1 = { tag: '0001_license_key', sql: 'ALTER TABLE "partners" ADD COLUMN "licenseKey" text;' };
const M2 = {
  tag: '0002_license_key_unique',
  sql: 'CREATE UNIQUE INDEX "partners_license_key_idx" ON "partners" USING btree ("licenseKey");',
};

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
    writeAppFolder(
      [M0, M1, M2],
      {
        tables: Object.fromEntries([
          table('public', 'partners', [ID, NAME, KEY], {
            indexes: {
              partners_license_key_idx: {
                name: 'partners_license_key_idx',
                columns: [{ expression: 'licenseKey', isExpression: false, asc: true, nulls: 'last' }],
                isUnique: true,
                concurrently: false,
                method: 'btree',
                with: {},
              },
            },
          }),
        ]),
      },
      dir,
    );
    const dry = await runUpkit('upgrade.ts', ['--dry-run', '--drizzle-dir', dir], { env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).not.toMatch(/42703|failed/);
    const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
    expect(r.code, r.stderr).toBe(0);
    await withClientAt(db().url, async (c) => {
      expect((await c.query(`select id, name, "licenseKey" from partners order by id`)).rows).toEqual([
        { id: 1, name: 'a', licenseKey: null },
        { id: 2, name: 'a', licenseKey: null },
        { id: 3, name: null, licenseKey: null },
      ]);
      expect((await c.query(`select to_regclass('public.partners_license_key_idx')::text as i`)).rows[0].i).toBe(
        'partners_license_key_idx',
      );
    });
  });

  it('a unique index through a function a pending step creates: checked by the run, not refused', async () => {
    const dir = writeAppFolder([M0], { tables: Object.fromEntries([table('public', 'partners', [ID, NAME])]) });
    const env = { DATABASE_URL: db().url };
    expect((await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env })).code).toBe(0);
    await withClientAt(db().url, (c) => c.query(`insert into partners values (1, 'a'), (2, 'B'), (3, null)`));
    const norm = {
      tag: '0001_norm',
      sql:
        'CREATE FUNCTION "norm"(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ select lower(v) ' +
        '$$;\n--> statement-breakpoint\nCREATE UNIQUE INDEX ' +
        '"partners_norm_name_idx" ON "partners" USING btree ("norm"("name"));',
    };
    writeAppFolder(
      [M0, norm],
      {
        tables: Object.fromEntries([
          table('public', 'partners', [ID, NAME], {
            indexes: {
              partners_norm_name_idx: {
                name: 'partners_norm_name_idx',
                columns: [{ expression: '"norm"("name")', isExpression: true, asc: true, nulls: 'last' }],
                isUnique: true,
                concurrently: false,
                method: 'btree',
                with: {},
              },
            },
          }),
        ]),
      },
      dir,
    );
    const dry = await runUpkit('upgrade.ts', ['--dry-run', '--drizzle-dir', dir], { env });
    expect(dry.code, dry.stderr).toBe(0);
    const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
    expect(r.stderr).not.toMatch(/42883/);
    expect(r.code, r.stderr).toBe(0);
    await withClientAt(db().url, async (c) => {
      expect((await c.query(`select count(*)::int as n from partners`)).rows[0].n).toBe(3);
      expect((await c.query(`select to_regclass('public.partners_norm_name_idx') is not null as i`)).rows[0].i).toBe(
        true,
      );
    });
  });

  // Real histories drop a foreign key (or the table that holds it) in one migration and the
  // table it references in a later one: the check must see the run remove it first.
  for (const [label, removeFk] of [
    [
      'the foreign key dropped by an earlier pending step',
      'ALTER TABLE "orders" DROP CONSTRAINT "orders_partner_id_partners_id_fk";',
    ],
    ['the table holding the foreign key dropped by an earlier pending step', 'DROP TABLE "orders";'],
  ] as const) {
    it(`drops a referenced table after ${label}: not refused, applied`, async () => {
      const m0 = {
        tag: '0000_init',
        sql:
          'CREATE TABLE "partners" ("id" integer PRIMARY KEY NOT NULL);\n--> statement-breakpoint\n' +
          'CREATE TABLE "orders" ("id" integer PRIMARY KEY NOT NULL, "partner_id" integer);\n' +
          '--> statement-breakpoint\nALTER TABLE "orders" ADD CONSTRAINT ' +
          '"orders_partner_id_partners_id_fk" FOREIGN KEY ("partner_id") REFERENCES "public"."partners"("id");',
      };
      const orders = table('public', 'orders', [ID, column('partner_id', 'integer')]);
      const dir = writeAppFolder([m0], { tables: Object.fromEntries([table('public', 'partners', [ID]), orders]) });
      const env = { DATABASE_URL: db().url };
      expect((await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env })).code).toBe(0);
      const m1 = { tag: '0001_unlink', sql: removeFk };
      const m2 = { tag: '0002_drop_partners', sql: 'DROP TABLE "partners";' };
      writeAppFolder(
        [m0, m1, m2],
        { tables: removeFk.startsWith('DROP TABLE') ? {} : Object.fromEntries([orders]) },
        dir,
      );
      const dry = await runUpkit('upgrade.ts', ['--dry-run', '--drizzle-dir', dir], { env });
      expect(dry.stderr).not.toMatch(/check\.dependent_objects|depends on: PostgreSQL refuses/);
      expect(dry.code, dry.stderr).toBe(0);
      const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
      expect(r.code, r.stderr).toBe(0);
      await withClientAt(db().url, async (c) => {
        expect((await c.query(`select to_regclass('public.partners') as t`)).rows[0].t).toBeNull();
      });
    });
  }

  it('a referenced table whose foreign key no pending step removes is still refused before any write', async () => {
    const m0 = {
      tag: '0000_init',
      sql:
        'CREATE TABLE "partners" ("id" integer PRIMARY KEY NOT NULL);\n--> statement-breakpoint\n' +
        'CREATE TABLE "orders" ("id" integer PRIMARY KEY NOT NULL, "partner_id" integer);\n' +
        '--> statement-breakpoint\nALTER TABLE "orders" ADD CONSTRAINT ' +
        '"orders_partner_id_partners_id_fk" FOREIGN KEY ("partner_id") REFERENCES "public"."partners"("id");',
    };
    const orders = table('public', 'orders', [ID, column('partner_id', 'integer')]);
    const dir = writeAppFolder([m0], { tables: Object.fromEntries([table('public', 'partners', [ID]), orders]) });
    const env = { DATABASE_URL: db().url };
    expect((await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env })).code).toBe(0);
    const m1 = { tag: '0001_orders_note', sql: 'ALTER TABLE "orders" ADD COLUMN "note" text;' };
    const m2 = { tag: '0002_drop_partners', sql: 'DROP TABLE "partners";' };
    writeAppFolder(
      [m0, m1, m2],
      {
        tables: Object.fromEntries([
          table('public', 'orders', [ID, column('partner_id', 'integer'), column('note', 'text')]),
        ]),
      },
      dir,
    );
    const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      new RegExp(
        String.raw`0002_drop_partners\.sql:1 drops table public\.partners, which ` +
          'constraint orders_partner_id_partners_id_fk on table orders depends on',
      ),
    );
    await withClientAt(db().url, async (c) => {
      expect((await c.query(`select to_regclass('public.partners')::text as t`)).rows[0].t).toBe('partners');
      expect(
        (
          await c.query(
            `select count(*)::int as n from information_schema.columns ` +
              `where table_name = 'orders' and column_name = 'note'`,
          )
        ).rows[0].n,
      ).toBe(0);
    });
  });
});
