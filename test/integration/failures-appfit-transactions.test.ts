// Some apps' migrations end drizzle's transaction themselves (`COMMIT;` … `BEGIN;`) so that a
// concurrent index build can run between two transactions of the same file. upkit runs such a
// file in file order, as drizzle-orm's migrator does: the constraint built on the new index
// exists afterwards, drizzle's ledger has its row, verify is clean and a rerun does nothing.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runUpkit } from '../support/cli.ts';
import { backupArgs, connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase } from '../failures/check.ts';

const M0 = {
  tag: '0000_docs',
  sql:
    'CREATE TABLE "docs" ("id" integer PRIMARY KEY NOT NULL, "path" text, "commit_id" integer);\n--> ' +
    'statement-breakpoint\nALTER TABLE "docs" ADD CONSTRAINT "docs_path_commit" UNIQUE("path","commit_id");',
};
const M1 = {
  tag: '0001_rebuild_unique',
  sql: [
    'COMMIT;',
    'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "docs_path_commit__new" ' +
      'ON "docs" ("path","commit_id") NULLS NOT DISTINCT;',
    'BEGIN;',
    'ALTER TABLE "docs" DROP CONSTRAINT IF EXISTS "docs_path_commit";',
    'COMMIT;',
    'DROP INDEX CONCURRENTLY IF EXISTS "docs_path_commit";',
    'BEGIN;',
    'ALTER TABLE "docs" ADD CONSTRAINT "docs_path_commit" UNIQUE USING INDEX "docs_path_commit__new";',
  ].join('--> statement-breakpoint\n'),
};
const DOCS = table(
  'public',
  'docs',
  [
    column('id', 'integer', { primaryKey: true, notNull: true }),
    column('path', 'text'),
    column('commit_id', 'integer'),
  ],
  {
    uniqueConstraints: {
      docs_path_commit: { name: 'docs_path_commit', nullsNotDistinct: true, columns: ['path', 'commit_id'] },
    },
  },
);

describe('a migration that ends and opens its own transactions', () => {
  const db = useFreshDatabase();

  it(
    'is applied in file order on a fresh install and on a ' +
      'database with rows; verify is clean; a rerun does nothing',
    async () => {
      const dir = writeAppFolder([M0], { tables: Object.fromEntries([DOCS]) });
      const env = { DATABASE_URL: db().url };
      expect((await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env })).code).toBe(0);
      await withClientAt(db().url, (c) => c.query(`insert into docs values (1, 'a', 1), (2, 'a', 2), (3, null, 1)`));
      writeAppFolder([M0, M1], { tables: Object.fromEntries([DOCS]) }, dir);
      const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', dir], { env });
      expect(r.code, r.stderr).toBe(0);
      await withClientAt(db().url, async (c) => {
        const con = await c.query(
          `select conname, pg_get_constraintdef(oid) ` +
            `as def from pg_constraint where conrelid = 'docs'::regclass and contype = 'u'`,
        );
        expect(con.rows).toEqual([{ conname: 'docs_path_commit', def: 'UNIQUE NULLS NOT DISTINCT (path, commit_id)' }]);
        expect((await c.query(`select count(*)::int as n from drizzle.__drizzle_migrations`)).rows[0].n).toBe(2);
        expect((await c.query(`select count(*)::int as n from upkit.migration_parts`)).rows[0].n).toBe(0);
        expect((await c.query(`select count(*)::int as n from docs`)).rows[0].n).toBe(3);
        expect((await c.query(`select count(*)::int as n from pg_index where not indisvalid`)).rows[0].n).toBe(0);
      });
      const v = await runUpkit('verify/index.ts', ['--drizzle-dir', dir], { env });
      expect(v.code, v.stderr + v.stdout).toBe(0);
      const again = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', dir], { env });
      expect(again.code, again.stderr).toBe(0);
      expect(again.json<{ applied: unknown[] }>().applied).toEqual([]);
    },
  );

  it('a fresh install of the whole folder by install.ts, with no flag but --drizzle-dir', async () => {
    const dir = writeAppFolder([M0, M1], { tables: Object.fromEntries([DOCS]) });
    const r = await runUpkit('install.ts', ['--yes', '--drizzle-dir', dir, ...backupArgs()], {
      env: { DATABASE_URL: db().url },
    });
    expect(r.code, r.stderr).toBe(0);
    await withClientAt(db().url, async (c) => {
      expect(
        (await c.query(`select count(*)::int as n from pg_constraint where conname = 'docs_path_commit'`)).rows[0].n,
      ).toBe(1);
      expect((await c.query(`select count(*)::int as n from drizzle.__drizzle_migrations`)).rows[0].n).toBe(2);
    });
  });

  it(
    'app.transaction-control: a SAVEPOINT or ROLLBACK in a pending ' +
      'migration is refused by the plan, before anything is applied',
    async () => {
      const c = failureCase('app.transaction-control');
      const dir = writeAppFolder([M0], { tables: Object.fromEntries([DOCS]) });
      const env = { DATABASE_URL: db().url };
      expect((await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env })).code).toBe(0);
      const M1b = { tag: '0001_notes', sql: 'CREATE TABLE "notes" ("id" integer PRIMARY KEY);' };
      const M2 = {
        tag: '0002_savepoint',
        sql: [
          'ALTER TABLE "docs" ADD COLUMN "title" text;',
          'SAVEPOINT s1;',
          'ALTER TABLE "docs" ADD COLUMN "body" text;',
          'ROLLBACK TO SAVEPOINT s1;',
        ].join('\n--> statement-breakpoint\n'),
      };
      writeAppFolder([M0, M1b, M2], { tables: Object.fromEntries([DOCS]) }, dir);
      const before = await dbState(db().url);
      const r = await runCase(c, { dir, url: db().url });
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
      await withClientAt(db().url, async (client) => {
        expect((await client.query(`select to_regclass('public.notes') as t`)).rows[0].t).toBeNull();
        expect((await client.query(`select count(*)::int as n from drizzle.__drizzle_migrations`)).rows[0].n).toBe(1);
      });
    },
  );

  it(
    'a statement between its COMMIT and its next BEGIN runs under lock_timeout with its resume marker: ' +
      'a busy table is a lock refusal, never a wait that queues the application',
    async () => {
      const dir = writeAppFolder([M0], { tables: Object.fromEntries([DOCS]) });
      const env = { DATABASE_URL: db().url, LOCK_RETRIES: '0', MIGRATION_TIMEOUT: '20000' };
      expect((await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env })).code).toBe(0);
      const M1c = {
        tag: '0001_between',
        sql: [
          'COMMIT;',
          'ALTER TABLE "docs" ADD COLUMN "x" integer;',
          'BEGIN;',
          'CREATE TABLE "later" ("id" integer PRIMARY KEY);',
        ].join('\n--> statement-breakpoint\n'),
      };
      writeAppFolder([M0, M1c], { tables: Object.fromEntries([DOCS]) }, dir);
      const holder = await connectTo(db().url, 'upkit test reader');
      try {
        await holder.query('begin');
        await holder.query('select count(*) from docs');
        const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
        expect(r.code, r.stderr).toBe(3);
        expect(r.stderr).toMatch(
          new RegExp(
            '✖ 0001_between: could not get its locks within 150 ms after 1 ' +
              String.raw`attempts; pid \d+ \(upkit test reader\) holds AccessShareLock on docs`,
          ),
        );
      } finally {
        await holder.end();
      }
      const again = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', dir], { env });
      expect(again.code, again.stderr).toBe(0);
      await withClientAt(db().url, async (c) => {
        expect(
          (
            await c.query(
              `select count(*)::int as n from information_schema.columns ` +
                `where table_name = 'docs' and column_name = 'x'`,
            )
          ).rows[0].n,
        ).toBe(1);
        expect((await c.query(`select count(*)::int as n from drizzle.__drizzle_migrations`)).rows[0].n).toBe(2);
        expect((await c.query(`select count(*)::int as n from upkit.migration_parts`)).rows[0].n).toBe(0);
      });
    },
  );

  it(
    'app.plan-lock-timeout: an error PostgreSQL raises while ' +
      'the plan reads is a refusal that says nothing was changed',
    async () => {
      const c = failureCase('app.plan-lock-timeout');
      const dir = writeAppFolder([M0], { tables: Object.fromEntries([DOCS]) });
      expect(
        (
          await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], {
            env: { DATABASE_URL: db().url },
          })
        ).code,
      ).toBe(0);
      writeAppFolder(
        [M0, { tag: '0001_notes', sql: 'CREATE TABLE "notes" ("id" integer PRIMARY KEY);' }],
        { tables: Object.fromEntries([DOCS]) },
        dir,
      );
      await withClientAt(db().url, (client) =>
        client.query(`alter database ${JSON.stringify(db().database)} set lock_timeout = '100ms'`),
      );
      const before = await dbState(db().url);
      const holder = await connectTo(db().url, 'upkit test holder');
      try {
        const pid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid;
        await holder.query('begin');
        await holder.query('lock table drizzle.__drizzle_migrations in access exclusive mode');
        const r = await runCase(c, { dir, url: db().url, pid });
        expectCase(r, c, r.vars);
      } finally {
        await holder.end();
      }
      await expectUnchanged(db().url, before);
    },
  );

  it(
    'app.check-privilege: a table the checks may not read ' + "is named with its GRANT, not called upkit's defect",
    async () => {
      const c = failureCase('app.check-privilege');
      const role = `app_${randomBytes(3).toString('hex')}`;
      const team = `team_${randomBytes(3).toString('hex')}`;
      const password = randomBytes(12).toString('hex');
      const url = new URL(db().url);
      url.username = role;
      url.password = password;
      await withClientAt(db().url, async (a) => {
        await a.query(`create role ${role} login password '${password}'`);
        await a.query(`create role ${team} nologin`);
        await a.query(`grant create on database ${JSON.stringify(db().database)} to ${role}`);
        await a.query(`grant create, usage on schema public to ${role}`);
        await a.query(
          `create table team_ext (id integer primary key); ` +
            `insert into team_ext values (1); alter table team_ext owner to ${team}`,
        );
        await a.query(`grant references on team_ext to ${role}`);
      });
      try {
        const plain = {
          tag: '0000_docs',
          sql: 'CREATE TABLE "docs" ("id" integer PRIMARY KEY NOT NULL, "path" text, "commit_id" integer);',
        };
        const docs = table('public', 'docs', [
          column('id', 'integer', { primaryKey: true, notNull: true }),
          column('path', 'text'),
          column('commit_id', 'integer'),
        ]);
        const dir = writeAppFolder([plain], { tables: Object.fromEntries([docs]) });
        const first = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], {
          env: { DATABASE_URL: url.toString() },
        });
        expect(first.code, first.stderr).toBe(0);
        await withClientAt(url.toString(), (client) => client.query(`insert into docs values (1, 'a', 1)`));
        writeAppFolder(
          [
            plain,
            {
              tag: '0001_fk',
              sql:
                'ALTER TABLE "docs" ADD CONSTRAINT "docs_commit_fk" ' +
                'FOREIGN KEY ("commit_id") REFERENCES "team_ext"("id");',
            },
          ],
          { tables: Object.fromEntries([docs]) },
          dir,
        );
        const before = await dbState(db().url);
        const r = await runCase(c, { dir, url: url.toString(), role });
        expectCase(r, c, r.vars);
        await expectUnchanged(db().url, before);
      } finally {
        await withClientAt(db().url, async (a) => {
          await a.query(`drop owned by ${role}, ${team} cascade`);
          await a.query(`drop table if exists team_ext`);
        });
        await withClientAt(db().url, (a) => a.query(`drop role if exists ${role}; drop role if exists ${team}`));
      }
    },
  );
});
