// Repeatable SQL (docs/repeatable.md): an app's repeatable/ folder beside its drizzle
// folder. Each file is applied after the migrations, in one transaction with its row in
// upkit.repeatable, and again only when its bytes change (or an object it defines is gone);
// verify says when a file is not applied or what it defines was dropped or revoked; status
// lists the files; a run killed (SIGKILL) inside a file leaves neither the file's effects nor
// its ledger row, and the next run applies it.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { until } from '../failures/interrupt.ts';
import { expectVerifyCase } from '../failures/verifyCase.ts';
import { runUpkit } from '../support/cli.ts';
import { connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';

const M0 = { tag: '0000_notes', sql: 'CREATE TABLE "notes" ("id" integer PRIMARY KEY NOT NULL, "title" text);' };
const SNAPSHOT = {
  tables: Object.fromEntries([
    table('public', 'notes', [column('id', 'integer', { primaryKey: true, notNull: true }), column('title', 'text')]),
  ]),
};

interface App {
  root: string;
  drizzle: string;
  repeatable: string;
  write(name: string, sql: string): string;
}

/** An app folder: drizzle/ and repeatable/ side by side (the default rule finds the latter). */
function app(): App {
  const root = tempDir('upkit-repeatable-');
  const drizzle = writeAppFolder([M0], SNAPSHOT, path.join(root, 'drizzle'));
  const repeatable = path.join(root, 'repeatable');
  mkdirSync(repeatable);
  return {
    root,
    drizzle,
    repeatable,
    write(name, sql) {
      writeFileSync(path.join(repeatable, name), sql);
      return createHash('sha256').update(sql).digest('hex');
    },
  };
}

type Report = {
  applied: Array<{ kind: string; name: string }>;
  plan: { steps: Array<{ kind: string; file?: string; reason?: string }> };
};

const ledgerOf = (url: string) =>
  withClientAt(
    url,
    async (c) =>
      (await c.query(`select file, checksum, run_id from upkit.repeatable order by file`)).rows as Array<{
        file: string;
        checksum: string;
        run_id: string;
      }>,
  );
const views = (url: string) =>
  withClientAt(url, async (c) =>
    (await c.query(`select viewname from pg_views where schemaname = 'public' order by 1`)).rows.map(
      (r) => r.viewname as string,
    ),
  );

describe('repeatable SQL files', () => {
  const db = useFreshDatabase();
  /** A role of this test's own (roles are the cluster's, shared by every test). */
  const role = () => `reader_${db().database}`.slice(0, 63);
  const viewsSql = (extra = '') =>
    `CREATE OR REPLACE VIEW note_titles AS SELECT id, ` +
    `title${extra} FROM notes;\nGRANT SELECT ON note_titles TO ${role()};\n`;

  async function installed(a: App): Promise<Record<string, string>> {
    await withClientAt(db().url, (c) => c.query(`create role ${role()}`));
    const old = a.write('10_views.sql', viewsSql());
    const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', a.drizzle], {
      env: { DATABASE_URL: db().url },
    });
    expect(r.code, r.stderr).toBe(0);
    return { dir: a.drizzle, url: db().url, role: role(), old: old.slice(0, 12) };
  }

  it('are applied after the migrations, again only when changed; ' +
    'the ledger keeps one row per file with its checksum and run', {
    timeout: 120_000,
  }, async () => {
    const a = app();
    const env = { DATABASE_URL: db().url };
    await withClientAt(db().url, (c) => c.query(`create role ${role()}`));
    const first = a.write('10_views.sql', viewsSql());
    const r1 = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', a.drizzle], { env });
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.json<Report>().applied.map((x) => `${x.kind} ${x.name}`)).toEqual([
      'drizzle 0000_notes',
      'repeatable 10_views.sql',
    ]);
    const l1 = await ledgerOf(db().url);
    expect(l1.map((x) => [x.file, x.checksum])).toEqual([['10_views.sql', first]]);
    expect(await views(db().url)).toEqual(['note_titles']);

    // Nothing changed: nothing applied, no new ledger row.
    const r2 = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', a.drizzle], { env });
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.json<Report>().applied).toEqual([]);
    expect(await ledgerOf(db().url)).toEqual(l1);

    // Edited: the dry run says it applies and why, the upgrade applies it, the row is updated.
    const second = a.write('10_views.sql', viewsSql(', length(title) AS size'));
    const dry = await runUpkit('upgrade.ts', ['--dry-run', '--json', '--drizzle-dir', a.drizzle], { env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json<Report>().plan.steps).toEqual([
      expect.objectContaining({ kind: 'repeatable', file: '10_views.sql', reason: 'changed' }),
    ]);
    expect(dry.stderr).toContain('repeatable: 10_views.sql (changed since it was last applied)');
    const r3 = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', a.drizzle], { env });
    expect(r3.code, r3.stderr).toBe(0);
    expect(r3.json<Report>().applied.map((x) => `${x.kind} ${x.name}`)).toEqual(['repeatable 10_views.sql']);
    const l3 = await ledgerOf(db().url);
    expect(l3.map((x) => [x.file, x.checksum])).toEqual([['10_views.sql', second]]);
    expect(l3[0]!.run_id).not.toBe(l1[0]!.run_id);
    await withClientAt(db().url, async (c) =>
      expect(
        (
          await c.query(
            `select column_name from information_schema.columns where ` +
              `table_name = 'note_titles' order by ordinal_position`,
          )
        ).rows.map((x) => x.column_name),
      ).toEqual(['id', 'title', 'size']),
    );
  });

  it('a new file is applied on its own, the others left as they are; verify is clean', async () => {
    const a = app();
    const env = { DATABASE_URL: db().url };
    await installed(a);
    a.write('20_count.sql', 'CREATE OR REPLACE VIEW note_count AS SELECT count(*) AS n FROM notes;\n');
    const r4 = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', a.drizzle], { env });
    expect(r4.json<Report>().applied.map((x) => x.name)).toEqual(['20_count.sql']);
    expect((await ledgerOf(db().url)).map((x) => x.file)).toEqual(['10_views.sql', '20_count.sql']);

    const v = await runUpkit('verify/index.ts', ['--drizzle-dir', a.drizzle], { env });
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it('verify reports a file changed and not applied (exit 4), and status lists each file with its state', {
    timeout: 120_000,
  }, async () => {
    const a = app();
    const vars = await installed(a);
    const edited = a.write('10_views.sql', viewsSql(', id * 2 AS twice'));
    a.write('20_count.sql', 'CREATE OR REPLACE VIEW note_count AS SELECT count(*) AS n FROM notes;\n');
    const before = await dbState(db().url);
    const c = failureCase('repeatable.changed-not-applied');
    const r = await runCase(c, vars);
    expectVerifyCase(r, c, { ...vars, new: edited.slice(0, 12) });
    expect(
      r
        .json<{ findings: Array<{ code: string; message: string }> }>()
        .findings.filter((f) => f.code === 'repeatable.pending')
        .map((f) => f.message),
    ).toContain('repeatable/20_count.sql has never been applied');
    await expectUnchanged(db().url, before);

    const s = await runUpkit('scripts/status.ts', ['--drizzle-dir', a.drizzle, '--exit-code'], {
      env: { DATABASE_URL: db().url },
    });
    expect(s.code, s.stderr).toBe(1);
    expect(s.stdout).toMatch(/^repeatable: 2 files in .*repeatable$/m);
    expect(s.stdout).toMatch(/^ {2}✖ 10_views\.sql: changed since it was applied \d{4}-\d\d-\d\dT[\d:.]+Z$/m);
    expect(s.stdout).toMatch(/^ {2}· 20_count\.sql: never applied$/m);
    await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', a.drizzle], {
      env: { DATABASE_URL: db().url },
    });
    const after = await runUpkit('scripts/status.ts', ['--drizzle-dir', a.drizzle, '--exit-code'], {
      env: { DATABASE_URL: db().url },
    });
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/^ {2}✔ 10_views\.sql: applied \d{4}-/m);
    expect(after.stdout).toMatch(/^ {2}✔ 20_count\.sql: applied \d{4}-/m);
  });

  it('verify reports a view dropped and a grant revoked since; ' +
    'the upgrade applies the file again and verify is clean', {
    timeout: 120_000,
  }, async () => {
    const a = app();
    const vars = await installed(a);
    const env = { DATABASE_URL: db().url };
    await withClientAt(db().url, (c) => c.query('drop view note_titles'));
    const dropped = failureCase('repeatable.view-dropped');
    expectVerifyCase(await runCase(dropped, vars), dropped, vars);
    const status = await runUpkit('scripts/status.ts', ['--drizzle-dir', a.drizzle], { env });
    expect(status.stdout).toMatch(
      /^ {2}✖ 10_views\.sql: applied \S+, but the database lacks view note_titles, SELECT on note_titles to \S+$/m,
    );
    const again = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', a.drizzle], { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<Report>().applied.map((x) => x.name)).toEqual(['10_views.sql']);
    expect(await views(db().url)).toEqual(['note_titles']);

    await withClientAt(db().url, (c) => c.query(`revoke select on note_titles from ${role()}`));
    const revoked = failureCase('repeatable.grant-revoked');
    expectVerifyCase(await runCase(revoked, vars), revoked, vars);
    expect((await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', a.drizzle], { env })).code).toBe(0);
    await withClientAt(db().url, async (c) =>
      expect(
        (await c.query(`select has_table_privilege($1, 'note_titles', 'SELECT') as ok`, [role()])).rows[0].ok,
      ).toBe(true),
    );
    const v = await runUpkit('verify/index.ts', ['--drizzle-dir', a.drizzle], { env });
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it('a file with its own transaction control is refused by the plan, before anything is written', async () => {
    const a = app();
    const vars = await installed(a);
    const file = path.join(a.repeatable, '20_commit.sql');
    a.write('20_commit.sql', 'CREATE OR REPLACE VIEW note_count AS SELECT count(*) AS n FROM notes;\nCOMMIT;\n');
    const before = await dbState(db().url);
    const c = failureCase('repeatable.transaction-control');
    expectCase(await runCase(c, { ...vars, file }), c, { ...vars, file });
    await expectUnchanged(db().url, before);
  });

  it('a file that changes a setting for the whole session is refused by the plan; SET LOCAL is applied', async () => {
    const a = app();
    const vars = await installed(a);
    const file = path.join(a.repeatable, '20_settings.sql');
    a.write(
      '20_settings.sql',
      'SET search_path = pg_catalog;\nCREATE OR REPLACE VIEW ' +
        'public.note_count AS SELECT count(*) AS n FROM public.notes;\n',
    );
    const before = await dbState(db().url);
    const c = failureCase('repeatable.session-setting');
    expectCase(await runCase(c, { ...vars, file }), c, { ...vars, file });
    await expectUnchanged(db().url, before);
    a.write(
      '20_settings.sql',
      'SET LOCAL search_path = pg_catalog;\nCREATE OR REPLACE VIEW ' +
        'public.note_count AS SELECT count(*) AS n FROM public.notes;\n',
    );
    const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', a.drizzle], {
      env: { DATABASE_URL: db().url },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(await views(db().url)).toEqual(['note_count', 'note_titles']);
  });

  it('a file whose SQL fails is rolled back with its ledger row; the error names file, line and column', async () => {
    const a = app();
    const vars = await installed(a);
    a.write(
      '30_broken.sql',
      'CREATE VIEW fine AS SELECT 1 AS one;\nCREATE VIEW broken AS SELECT * FROM no_such_table;\n',
    );
    const c = failureCase('repeatable.sql-error');
    expectCase(await runCase(c, vars), c, vars);
    expect(await views(db().url)).toEqual(['note_titles']);
    expect((await ledgerOf(db().url)).map((x) => x.file)).toEqual(['10_views.sql']);
  });

  it('a destructive statement in a repeatable file needs the same acceptance as in a migration', async () => {
    const a = app();
    const vars = await installed(a);
    await withClientAt(db().url, (c) => c.query(`insert into notes values (1, 'kept')`));
    a.write('40_reset.sql', 'TRUNCATE notes;\n');
    const before = await dbState(db().url);
    const c = failureCase('repeatable.destructive');
    expectCase(await runCase(c, vars), c, vars);
    await expectUnchanged(db().url, before);
  });

  it('a run killed (SIGKILL) while a file waits on a lock leaves ' +
    'neither its effects nor its ledger row; the next run applies it', {
    timeout: 120_000,
  }, async () => {
    const a = app();
    await installed(a);
    const env = { DATABASE_URL: db().url, LOCK_TIMEOUT: '60000' };
    a.write(
      '20_count.sql',
      "CREATE OR REPLACE VIEW note_count AS SELECT count(*) AS n FROM notes;\nCOMMENT ON TABLE notes IS 'counted';\n",
    );
    const watcher = await connectTo(db().url);
    const blocker = await connectTo(db().url, 'pulse-api');
    try {
      // The test holds the table the file's second statement needs: the file's transaction waits on it.
      await blocker.query('begin');
      await blocker.query('lock table notes in access exclusive mode');
      let pid = 0;
      const run = runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', a.drizzle], {
        env,
        onSpawn: (p) => (pid = p),
      });
      let backend = 0;
      await until(async () => {
        const { rows } = await watcher.query(
          `select pid from pg_stat_activity where datname = current_database() ` +
            `and application_name like 'upkit %' and wait_event_type = 'Lock' and query like '%note_count%'`,
        );
        backend = rows[0]?.pid ?? 0;
        return backend > 0;
      }, 'the file to wait on the lock');
      process.kill(pid, 'SIGKILL');
      expect((await run).signal).toBe('SIGKILL');
      await blocker.query('rollback');
      await until(
        async () => (await watcher.query('select 1 from pg_stat_activity where pid = $1', [backend])).rows.length === 0,
        "the killed run's session to end",
      );
      expect(await views(db().url)).toEqual(['note_titles']);
      expect((await ledgerOf(db().url)).map((x) => x.file)).toEqual(['10_views.sql']);
      expect((await watcher.query(`select obj_description('notes'::regclass, 'pg_class') as d`)).rows[0].d).toBeNull();
    } finally {
      await blocker.end().catch(() => {});
      await watcher.end().catch(() => {});
    }
    const rerun = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json', '--drizzle-dir', a.drizzle], { env });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.json<Report>().applied.map((x) => x.name)).toEqual(['20_count.sql']);
    expect(await views(db().url)).toEqual(['note_count', 'note_titles']);
    expect((await ledgerOf(db().url)).map((x) => x.file)).toEqual(['10_views.sql', '20_count.sql']);
  });
});
