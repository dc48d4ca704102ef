// A signal stops a run over targets as it stops one run: every running target rolls back what
// is in progress and releases its lock, no other target starts, and the combined exit is 130.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import type { TargetsReport } from '../../lib/targets/report.ts';
import { tempDir } from '../failures/check.ts';
import { until } from '../failures/interrupt.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';
import { runUpkit } from '../support/cli.ts';
import { freshDatabase, withAdminClient, withClientAt, type TestDatabase } from '../support/database.ts';

const NAMES = ['alpha', 'beta', 'gamma'];

describe('targets: interrupted', () => {
  let dbs: TestDatabase[] = [];
  beforeEach(async () => {
    dbs = await Promise.all(NAMES.map(() => freshDatabase()));
  });
  afterEach(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('SIGINT: the running targets roll back and release their locks, the others do not start, exit 130', async () => {
    const cwd = tempDir('upkit-targets-int-');
    for (const name of NAMES) {
      writeAppFolder(
        [
          { tag: '0000_init', sql: `CREATE TABLE "${name}_items" ("id" integer PRIMARY KEY NOT NULL);` },
          {
            tag: '0001_slow',
            sql: `ALTER TABLE "${name}_items" ADD COLUMN "note" text;--> statement-breakpoint\nSELECT pg_sleep(120);`,
          },
        ],
        {
          tables: Object.fromEntries([
            table('public', `${name}_items`, [
              column('id', 'integer', { primaryKey: true, notNull: true }),
              column('note', 'text'),
            ]),
          ]),
        },
        path.join(cwd, 'apps', name),
      );
    }
    writeFileSync(
      path.join(cwd, 'upkit.targets.json'),
      JSON.stringify({
        targets: NAMES.map((name) => ({
          name,
          url: `${name.toUpperCase()}_URL`,
          profile: { drizzleDir: `apps/${name}` },
        })),
      }),
    );
    const env = Object.fromEntries(NAMES.map((n, i) => [`${n.toUpperCase()}_URL`, dbs[i]!.url]));
    let pid = 0;
    let finished = false;
    const running = runUpkit(
      'upgrade.ts',
      ['--all', '--concurrency', '2', '--yes', '--no-containers', '--no-backup', '--json'],
      { cwd, env, timeoutMs: 120_000, onSpawn: (p) => (pid = p) },
    );
    void running.then(() => (finished = true));
    const names = dbs.map((d) => d.database);
    const sleeping = async () =>
      (
        await withAdminClient((c) =>
          c.query(
            `select datname from pg_stat_activity where query like ` +
              `'%pg_sleep(120)%' and state = 'active' and datname = any($1)`,
            [names],
          ),
        )
      ).rows.length;
    await until(async () => finished || (await sleeping()) === 2, 'two targets in their slow migration', 60_000);
    expect(finished, 'the run ended before it was interrupted').toBe(false);
    process.kill(pid, 'SIGINT');
    const r = await running;
    expect(r.code, r.stderr).toBe(130);
    const report = r.json<TargetsReport>();
    expect(report.exitCode).toBe(130);
    expect(report.targets.map((t) => [t.name, t.result, t.exitCode, t.reason])).toEqual([
      ['alpha', 'interrupted', 130, null],
      ['beta', 'interrupted', 130, null],
      ['gamma', 'skipped', null, 'not started: interrupted'],
    ]);
    const ledger = (url: string) =>
      withClientAt(
        url,
        async (c) =>
          (
            await c
              .query(`select count(*)::int as n from drizzle.__drizzle_migrations`)
              .catch(() => ({ rows: [{ n: 0 }] }))
          ).rows[0].n as number,
      );
    // 0000 committed before the stop; 0001 rolled back (its column is not there); gamma untouched.
    expect(await Promise.all(dbs.map((d) => ledger(d.url)))).toEqual([1, 1, 0]);
    for (const [i, d] of dbs.slice(0, 2).entries()) {
      const cols = await withClientAt(d.url, async (c) =>
        (
          await c.query(
            `select column_name from information_schema.columns where table_name = $1 order by ordinal_position`,
            [`${NAMES[i]}_items`],
          )
        ).rows.map((x) => x.column_name),
      );
      expect(cols).toEqual(['id']);
    }
    const locks = await withAdminClient((c) =>
      c.query(
        `select count(*)::int as n from pg_locks l join pg_database d on d.oid = ` +
          `l.database where l.locktype = 'advisory' and l.classid = $1 and d.datname = any($2)`,
        [LOCK_KEY.classId, names],
      ),
    );
    expect(locks.rows[0].n).toBe(0);
    expect(
      await withAdminClient((c) =>
        c.query(
          `select count(*)::int as n from pg_stat_activity where query ` +
            `like '%pg_sleep(120)%' and state = 'active' and datname = any($1)`,
          [names],
        ),
      ),
    ).toMatchObject({ rows: [{ n: 0 }] });
  }, 120_000);
});
