// The destructive lint against real PostgreSQL (catalogue: test/failures/hardening/lint.ts).
// test/fixtures/lint-app is a small app whose history creates a table and drops it two
// migrations later, and backfills a column it adds before making it NOT NULL: a fresh
// install has nothing to lose and needs no flag; on a database with rows the drop is found,
// refused (exit 3, nothing changed) and accepted by its tag alone.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LintFinding } from '../../lib/lint.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { ROOT, runUpkit } from '../support/cli.ts';
import { backupArgs, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';

const APP = path.join(ROOT, 'test/fixtures/lint-app');

/** The app's folder cut after its first `entries` migrations. */
function appUpTo(entries: number): string {
  const dir = path.join(tempDir('upkit-lint-app-'), 'drizzle');
  cpSync(APP, dir, { recursive: true });
  const file = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(file, 'utf8')) as { entries: Array<{ tag: string }> };
  for (const e of journal.entries.slice(entries)) rmSync(path.join(dir, `${e.tag}.sql`));
  journal.entries = journal.entries.slice(0, entries);
  writeFileSync(file, JSON.stringify(journal, null, 2));
  return dir;
}

interface Report {
  plan?: { lint: LintFinding[] };
}

describe('the lint knows the data', () => {
  const db = useFreshDatabase();

  /** The database at 0000 (by drizzle-orm's own migrator), with rows in users and imports. */
  async function atFirstWithRows(): Promise<void> {
    await withClientAt(db().url, async (c) => {
      await migrate(drizzle(c), { migrationsFolder: appUpTo(1) });
      await c.query(
        `insert into users (name) values ('Ada'), ('Grace'); insert into imports (payload) values ('{"batch": 1}')`,
      );
    });
  }

  it('a fresh install of the app needs no --allow-destructive: exit 0, no finding', async () => {
    const r = await runUpkit(
      'install.ts',
      [...backupArgs(), '--yes', '--no-containers', '--json', '--drizzle-dir', APP],
      { env: { DATABASE_URL: db().url }, cwd: tempDir() },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<Report>().plan!.lint).toEqual([]);
    await withClientAt(db().url, async (c) => {
      expect((await c.query(`select to_regclass('public.imports') as t`)).rows[0].t).toBeNull();
      expect(
        (
          await c.query(
            `select is_nullable from information_schema.columns where table_name = 'users' and column_name = 'slug'`,
          )
        ).rows,
      ).toEqual([{ is_nullable: 'NO' }]);
      expect((await c.query('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n).toBe(3);
    });
  });

  it('an upgrade of an empty app database needs none either', async () => {
    await withClientAt(db().url, (c) => migrate(drizzle(c), { migrationsFolder: appUpTo(1) }));
    const r = await runUpkit(
      'upgrade.ts',
      [...backupArgs(), '--yes', '--json', '--no-containers', '--drizzle-dir', APP],
      { env: { DATABASE_URL: db().url } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<Report>().plan!.lint).toEqual([]);
  });

  for (const id of ['lint.destructive-on-data', 'lint.accept-unknown-tag', 'lint.accept-nothing']) {
    it(id, async () => {
      await atFirstWithRows();
      const c = failureCase(id);
      const before = await dbState(db().url);
      const r = await runCase({ ...c, args: [...backupArgs(), ...c.args] }, { url: db().url, dir: APP });
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
    });
  }

  it('--allow-destructive=TAG accepts the findings of that migration; the report says how', async () => {
    await atFirstWithRows();
    const r = await runUpkit(
      'upgrade.ts',
      [
        ...backupArgs(),
        '--yes',
        '--json',
        '--no-containers',
        '--drizzle-dir',
        APP,
        '--allow-destructive=0002_drop_imports',
      ],
      { env: { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-lint-bk-') } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<Report>().plan!.lint.map((f) => [f.file, f.line, f.rule, f.accepted, f.acceptedBy])).toEqual([
      ['0002_drop_imports.sql', 1, 'drop_table', true, '--allow-destructive=TAG'],
    ]);
    expect(r.stderr).toContain(
      'lint 0002_drop_imports.sql:1 drops table imports and its data (accepted: --allow-destructive=0002_drop_imports)',
    );
    await withClientAt(db().url, async (c) => {
      expect((await c.query(`select to_regclass('public.imports') as t`)).rows[0].t).toBeNull();
      expect((await c.query('select name, slug from users order by id')).rows).toEqual([
        { name: 'Ada', slug: 'ada' },
        { name: 'Grace', slug: 'grace' },
      ]);
    });
  });

  it('lint.install-accept-nothing', async () => {
    const c = failureCase('lint.install-accept-nothing');
    const before = await dbState(db().url);
    const r = await runCase({ ...c, args: [...backupArgs(), ...c.args] }, { url: db().url, dir: APP });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });

  it('lint.install-accept-unknown', async () => {
    const c = failureCase('lint.install-accept-unknown');
    const cwd = tempDir();
    writeFileSync(path.join(cwd, '.env'), `DATABASE_URL=${db().url}\n`);
    const before = await dbState(db().url);
    const r = await runCase(
      { ...c, dotenv: undefined, args: [...backupArgs(), ...c.args] },
      { url: db().url, dir: APP },
      { cwd },
    );
    expectCase(r, c, r.vars);
    expect(readFileSync(path.join(cwd, '.env'), 'utf8')).toBe(`DATABASE_URL=${db().url}\n`);
    await expectUnchanged(db().url, before);
  });

  describe('a role that may not read every table', () => {
    const role = `upkit_lint_role_${process.pid}`;
    const password = 'lint-role-pw-123';
    beforeAll(() => withAdminClient((a) => a.query(`create role ${role} login password '${password}'`)));
    afterAll(() => withAdminClient((a) => a.query(`drop role if exists ${role}`)));

    it('plans anyway: a table it cannot read counts as holding rows, its own empty tables as empty', async () => {
      const url = new URL(db().url);
      url.username = role;
      url.password = password;
      await withClientAt(db().url, (c) =>
        c.query(`alter database ${c.escapeIdentifier(db().database)} owner to ${role}`),
      );
      await withClientAt(url.toString(), (c) => migrate(drizzle(c), { migrationsFolder: appUpTo(1) }));
      // Another team's schema, with rows: the role may read its table but not look into the schema.
      await withClientAt(db().url, (c) =>
        c.query(
          `create schema vault; create table vault.secrets (x int); ` +
            `insert into vault.secrets values (1); grant select on vault.secrets to ${role}`,
        ),
      );
      const plan = () =>
        runUpkit('upgrade.ts', ['--dry-run', '--json', '--drizzle-dir', APP], {
          env: { DATABASE_URL: url.toString() },
        });
      const empty = await plan();
      expect(empty.code, empty.stderr).toBe(0);
      expect(empty.json<Report>().plan!.lint).toEqual([]);
      await withClientAt(db().url, (c) => c.query(`insert into imports (payload) values ('x')`));
      const filled = await plan();
      expect(filled.code, filled.stderr).toBe(3);
      expect(filled.json<Report>().plan!.lint.map((f) => `${f.file}:${f.line} ${f.rule} ${f.object}`)).toEqual([
        '0002_drop_imports.sql:1 drop_table imports',
      ]);
    });
  });
});
