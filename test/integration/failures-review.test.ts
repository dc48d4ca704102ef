// Defects found by review, against real PostgreSQL (catalogue: test/failures/hardening/review.ts).
import { rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';
import { ROOT, runUpkit } from '../support/cli.ts';
import {
  backupArgs,
  backupsTestable,
  backupTests,
  freshDatabase,
  useFreshDatabase,
  withAdminClient,
  withClientAt,
} from '../support/database.ts';

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
    const first = writeAppFolder(
      [{ tag: '0000_audit', sql: 'CREATE TABLE "public"."audit_log" ("id" integer PRIMARY KEY NOT NULL);' }],
      {
        tables: Object.fromEntries([
          table('public', 'audit_log', [column('id', 'integer', { primaryKey: true, notNull: true })]),
        ]),
      },
    );
    await withClientAt(db().url, (c) => c.query('create schema app'));
    const setup = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--no-containers', '--drizzle-dir', first], {
      env: { DATABASE_URL: url },
    });
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

describe('a table whose rows row level security hides', () => {
  const db = useFreshDatabase();
  const owner = `upkit_rls_owner_${process.pid}`;
  const password = 'rls-owner-pw-123';
  const NOTES =
    'CREATE TABLE "notes" ("id" integer PRIMARY KEY NOT NULL, "tenant_id" integer NOT NULL);\n' +
    '--> statement-breakpoint\nALTER TABLE "notes" ENABLE ROW LEVEL SECURITY;\n--> statement-breakpoint\n' +
    'ALTER TABLE "notes" FORCE ROW LEVEL SECURITY;\n--> statement-breakpoint\nCREATE ' +
    'POLICY "tenant" ON "notes" USING ("tenant_id" = current_setting(\'app.tenant\', true)::int);';

  beforeAll(async () => {
    await withAdminClient((a) => a.query(`create role ${owner} login password '${password}'`));
  });
  afterAll(async () => {
    await withAdminClient(async (a) => {
      await a.query(`drop owned by ${owner}`).catch(() => {});
      await a.query(`drop role if exists ${owner}`);
    });
  });

  it('lint.rows-hidden-by-rls', async () => {
    await withClientAt(db().url, (c) =>
      c.query(`alter database ${c.escapeIdentifier(db().database)} owner to ${owner}`),
    );
    const url = `postgresql://${owner}:${password}@${db().host}:${db().port}/${db().database}`;
    const snapshot = {
      tables: Object.fromEntries([
        table(
          'public',
          'notes',
          [
            column('id', 'integer', { primaryKey: true, notNull: true }),
            column('tenant_id', 'integer', { notNull: true }),
          ],
          {
            isRLSEnabled: true,
            policies: {
              tenant: {
                name: 'tenant',
                as: 'PERMISSIVE',
                for: 'ALL',
                to: ['public'],
                using: '("tenant_id" = (current_setting(\'app.tenant\'::text, true))::integer)',
              },
            },
          },
        ),
      ]),
    };
    const first = writeAppFolder([{ tag: '0000_notes', sql: NOTES }], snapshot);
    const setup = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--no-containers', '--drizzle-dir', first], {
      env: { DATABASE_URL: url },
    });
    expect(setup.code, setup.stderr).toBe(0);
    // Rows of two tenants, written past the policy (a superuser bypasses it).
    await withClientAt(db().url, (c) => c.query('insert into public.notes values (1, 1), (2, 2)'));
    await withClientAt(url, async (c) => {
      expect((await c.query('select count(*)::int as n from public.notes')).rows[0].n).toBe(0);
    });
    const dir = writeAppFolder(
      [
        { tag: '0000_notes', sql: NOTES },
        { tag: '0001_drop_notes', sql: 'DROP TABLE notes;' },
      ],
      {},
    );
    const c = failureCase('lint.rows-hidden-by-rls');
    const before = await dbState(db().url);
    const r = await runCase({ ...c, args: [...backupArgs(), ...c.args] }, { url, dir });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    await withClientAt(db().url, async (client) => {
      expect((await client.query('select count(*)::int as n from public.notes')).rows[0].n).toBe(2);
    });
    // With upkit's backup, the refusal comes before anything starts: pg_dump as this role would refuse the table.
    if (backupsTestable()) {
      const refused = await runUpkit(
        'upgrade.ts',
        [
          ...backupArgs(),
          '--yes',
          '--no-containers',
          '--json',
          '--drizzle-dir',
          dir,
          '--allow-destructive=0001_drop_notes',
        ],
        { env: { DATABASE_URL: url } },
      );
      expect(refused.code, refused.stderr).toBe(3);
      expect(refused.stderr).toContain(
        `✖ pg_dump, as ${owner}, cannot back up notes: row level security applies ` +
          `to the role there, and pg_dump refuses to dump rows a policy could hide`,
      );
      expect(refused.stderr).toContain(
        `→ as an administrator: ALTER ROLE "${owner}" BYPASSRLS; ` +
          `(or take your own snapshot and run with --no-backup); nothing was changed`,
      );
      await expectUnchanged(db().url, before);
      const preflight = await runUpkit('scripts/preflight.ts', ['--drizzle-dir', dir], { env: { DATABASE_URL: url } });
      expect(preflight.code, preflight.stderr).toBe(3);
      expect(preflight.stderr).toContain('cannot back up notes: row level security applies to the role there');
    }
    // Accepted by its tag, the drop runs: the table's own policy, on a column of it, goes with it
    // (no backup of upkit's: pg_dump, run with row_security off, refuses a table it cannot read whole).
    const ok = await runUpkit(
      'upgrade.ts',
      ['--no-backup', '--yes', '--no-containers', '--drizzle-dir', dir, '--allow-destructive=0001_drop_notes'],
      { env: { DATABASE_URL: url } },
    );
    expect(ok.code, ok.stderr).toBe(0);
    await withClientAt(db().url, async (client) => {
      expect((await client.query(`select to_regclass('public.notes') as t`)).rows[0].t).toBeNull();
    });
  });
});

describe('an app working in its own schema', () => {
  const db = useFreshDatabase();
  const THINGS = 'CREATE TABLE "things" ("id" integer PRIMARY KEY NOT NULL);';
  const snapshot = {
    tables: Object.fromEntries([
      table('app', 'things', [column('id', 'integer', { primaryKey: true, notNull: true })]),
    ]),
  };

  it('install.app-schema-not-fresh', async () => {
    await withClientAt(db().url, (c) =>
      c.query(
        'create schema app; create table app.things (id integer primary key); insert into app.things values (1), (2)',
      ),
    );
    const dir = writeAppFolder([{ tag: '0000_things', sql: THINGS }], snapshot);
    const c = failureCase('install.app-schema-not-fresh');
    const before = await dbState(db().url);
    const r = await runCase(
      { ...c, args: [...backupArgs(), ...c.args] },
      { url: db().url, dir, database: db().database },
    );
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    await withClientAt(db().url, async (client) => {
      expect(
        (await client.query(`select count(*)::int as n from pg_namespace where nspname in ('upkit', 'drizzle')`))
          .rows[0].n,
      ).toBe(0);
    });
  });

  it(
    'an install that stopped half-way and is run again on app tables with rows takes a backup first',
    backupTests(),
    async () => {
      await withClientAt(db().url, (c) => c.query('create schema app'));
      const env = { DATABASE_URL: db().url, DB_SCHEMA: 'app', BACKUP_DIR: tempDir('upkit-review-bk-') };
      const broken = writeAppFolder(
        [
          { tag: '0000_things', sql: THINGS },
          { tag: '0001_note', sql: 'SELECT 1/0;' },
        ],
        snapshot,
      );
      const first = await runUpkit('install.ts', ['--yes', '--no-containers', '--json', '--drizzle-dir', broken], {
        env,
        cwd: tempDir(),
      });
      expect(first.code, first.stderr).toBe(1);
      await withClientAt(db().url, (c) => c.query('insert into app.things values (1), (2)'));
      const fixed = writeAppFolder(
        [
          { tag: '0000_things', sql: THINGS },
          { tag: '0001_note', sql: 'ALTER TABLE "things" ADD COLUMN "note" text;' },
        ],
        {
          tables: Object.fromEntries([
            table('app', 'things', [
              column('id', 'integer', { primaryKey: true, notNull: true }),
              column('note', 'text'),
            ]),
          ]),
        },
        broken,
      );
      const again = await runUpkit('install.ts', ['--yes', '--no-containers', '--json', '--drizzle-dir', fixed], {
        env,
        cwd: tempDir(),
      });
      expect(again.code, again.stderr).toBe(0);
      const report = again.json<{
        plan?: { databaseEmpty: boolean; backup: string };
        backup: { path: string } | null;
      }>();
      expect([report.plan?.databaseEmpty, report.plan?.backup]).toEqual([false, 'upkit']);
      expect(report.backup?.path).toMatch(/\.dump$/);
    },
  );
});

describe('an app folder without the snapshot of its last entry', () => {
  const db = useFreshDatabase();

  it('upgrades and verifies from the replayed migrations', async () => {
    const dir = writeAppFolder(
      [
        { tag: '0000_items', sql: 'CREATE TABLE "items" ("id" integer PRIMARY KEY NOT NULL);' },
        { tag: '0001_label', sql: 'ALTER TABLE "items" ADD COLUMN "label" text;' },
      ],
      {},
    );
    rmSync(path.join(dir, 'meta', '0001_snapshot.json'));
    const env = { DATABASE_URL: db().url };
    const up = await runUpkit(
      'upgrade.ts',
      ['--yes', '--no-backup', '--no-containers', '--json', '--drizzle-dir', dir],
      { env },
    );
    expect(up.code, up.stderr).toBe(0);
    expect(up.json<{ applied: Array<{ name: string }> }>().applied.map((a) => a.name)).toEqual([
      '0000_items',
      '0001_label',
    ]);
    const v = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], { env });
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.json<{ findings: Array<{ severity: string }> }>().findings.filter((f) => f.severity === 'error')).toEqual(
      [],
    );
    // The replay is what they compared with: a column it builds that the database lacks is found.
    await withClientAt(db().url, (c) => c.query('alter table items drop column label'));
    const changed = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', dir], { env });
    expect(changed.code, changed.stdout + changed.stderr).toBe(4);
    expect(changed.stdout).toContain('items.label');
  });
});

describe('an app folder without its last snapshot, for a role that cannot replay it', () => {
  const db = useFreshDatabase();
  const role = `upkit_nocreatedb_${process.pid}`;
  afterAll(async () => {
    await withAdminClient(async (a) => {
      await a.query(`drop owned by ${role}`).catch(() => {});
      await a.query(`drop role if exists ${role}`);
    });
  });

  it('is refused before the first write (it applied every migration, then failed its verification)', async () => {
    await withAdminClient((a) => a.query(`create role ${role} login password 'no-createdb-pw-1' nocreatedb`));
    await withClientAt(db().url, (c) =>
      c.query(
        `alter database ${c.escapeIdentifier(db().database)}` +
          ` owner to ${role}; grant create on schema public to ${role}`,
      ),
    );
    const dir = writeAppFolder(
      [{ tag: '0000_items', sql: 'CREATE TABLE "items" ("id" integer PRIMARY KEY NOT NULL);' }],
      {},
    );
    rmSync(path.join(dir, 'meta', '0000_snapshot.json'));
    const url = `postgresql://${role}:no-createdb-pw-1@${db().host}:${db().port}/${db().database}`;
    const before = await dbState(db().url);
    const r = await runUpkit(
      'upgrade.ts',
      ['--yes', '--no-backup', '--no-containers', '--json', '--drizzle-dir', dir],
      { env: { DATABASE_URL: url } },
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      new RegExp(
        String.raw`✖ .*0000_snapshot\.json does not exist and role upkit_nocreatedb_\d+ may ` +
          String.raw`not create databases \(no CREATEDB\), so the migrations were not replayed into ` +
          'a scratch database: the upgrade could not be verified; nothing was changed',
      ),
    );
    await expectUnchanged(db().url, before);
    await withClientAt(db().url, async (c) =>
      expect((await c.query(`select to_regclass('public.items') as t`)).rows[0].t).toBeNull(),
    );
  });
});

describe('two databases of one app on one server, with different search_paths', () => {
  const db = useFreshDatabase();

  it('do not share a cached replay', async () => {
    const other = await freshDatabase();
    try {
      // The migrations make schema app; unqualified names go where each search_path says.
      const dir = writeAppFolder(
        [
          {
            tag: '0000_users',
            sql:
              'CREATE SCHEMA IF NOT EXISTS "app";\n--> statement-breakpoint\n' +
              'CREATE TABLE "users" ("id" integer PRIMARY KEY NOT NULL);',
          },
        ],
        {},
      );
      const cache = tempDir('upkit-review-cache-');
      const a = withOptions(db().url, '-c search_path=app,public');
      const b = withOptions(other.url, '-c search_path=public');
      for (const url of [a, b]) {
        const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--no-containers', '--drizzle-dir', dir], {
          env: { DATABASE_URL: url, UPKIT_CACHE_DIR: cache },
        });
        expect(r.code, r.stderr).toBe(0);
      }
      await withClientAt(db().url, async (c) =>
        expect((await c.query(`select to_regclass('app.users') is not null as t`)).rows[0].t).toBe(true),
      );
      await withClientAt(other.url, async (c) =>
        expect((await c.query(`select to_regclass('public.users') is not null as t`)).rows[0].t).toBe(true),
      );
      for (const url of [a, b]) {
        const v = await runUpkit('verify/index.ts', ['--json', '--no-shadow', '--drizzle-dir', dir], {
          env: { DATABASE_URL: url, UPKIT_CACHE_DIR: cache },
        });
        expect(v.code, v.stdout + v.stderr).toBe(0);
        expect(v.stdout).toContain('expected schema from the migrations');
      }
    } finally {
      await other.drop();
    }
  });
});

describe("Pulse's drizzle folder through a symlink", () => {
  const db = useFreshDatabase();

  it('schema.pulse-folder-symlink', async () => {
    const link = path.join(tempDir('upkit-review-release-'), 'current');
    symlinkSync(path.join(ROOT, 'drizzle'), link);
    const c = failureCase('schema.pulse-folder-symlink');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir: link });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });
});
