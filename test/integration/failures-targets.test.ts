// Catalogue cases (test/failures/hardening/targets.ts): a targets file that is refused before
// any target runs, and one target's failure (its lock held, a wrong password) that leaves the
// other target's upgrade exactly as it would be alone.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import type { TargetsReport } from '../../lib/targets/report.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import { writeAppFolder, table, column } from '../support/appFolders.ts';
import { backupArgs, connectTo, freshDatabase, withClientAt, type TestDatabase } from '../support/database.ts';

function app(dir: string, name: string): void {
  writeAppFolder(
    [{ tag: '0000_init', sql: `CREATE TABLE "${name}_items" ("id" integer PRIMARY KEY NOT NULL);` }],
    {
      tables: Object.fromEntries([
        table('public', `${name}_items`, [column('id', 'integer', { primaryKey: true, notNull: true })]),
      ]),
    },
    path.join(dir, 'apps', name),
  );
}

/** The run's log files (the log folder also holds the shadow cache: a folder). */
const logs = (logDir: string) =>
  readdirSync(logDir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => readFileSync(path.join(logDir, f), 'utf8'))
    .join('\n');

const ledgerRows = (url: string) =>
  withClientAt(
    url,
    async (c) =>
      (await c.query<{ n: number }>(`select count(*)::int as n from drizzle.__drizzle_migrations`)).rows[0]!.n,
  );

describe('failure catalogue: targets', () => {
  let orders: TestDatabase;
  let billing: TestDatabase;
  let cwd: string;
  beforeEach(async () => {
    [orders, billing] = await Promise.all([freshDatabase(), freshDatabase()]);
    cwd = tempDir('upkit-targets-');
    app(cwd, 'orders');
    app(cwd, 'billing');
  });
  afterEach(async () => {
    await Promise.all([orders?.drop(), billing?.drop()]);
  });

  function writeTargets(change: (targets: Array<Record<string, unknown>>) => void = () => {}): string {
    const targets: Array<Record<string, unknown>> = [
      { name: 'orders', url: 'ORDERS_DATABASE_URL', profile: { drizzleDir: 'apps/orders' } },
      { name: 'billing', prefix: 'BILLING_', profile: { drizzleDir: 'apps/billing' } },
    ];
    change(targets);
    const file = path.join(cwd, 'upkit.targets.json');
    writeFileSync(file, JSON.stringify({ targets }, null, 2));
    return file;
  }
  const vars = (file: string) => ({
    file,
    ordersUrl: orders.url,
    host: billing.host,
    port: billing.port,
    user: billing.user,
    password: billing.password,
    database: billing.database,
  });

  for (const [id, change] of [
    [
      'targets.password-field',
      (t: Array<Record<string, unknown>>) => {
        t[1]!.password = 'hunter2-long';
      },
    ],
    [
      'targets.cycle',
      (t: Array<Record<string, unknown>>) => {
        t[0]!.after = ['billing'];
        t[1]!.after = ['orders'];
      },
    ],
    ['targets.unknown-target', () => {}],
  ] as const) {
    it(id, async () => {
      const c = failureCase(id);
      const file = writeTargets(change);
      const before = await Promise.all([dbState(orders.url), dbState(billing.url)]);
      const r = await runCase(c, vars(file), { cwd });
      expectCase(r, c, r.vars);
      expect(r.stderr + r.stdout + logs(r.logDir)).not.toContain('hunter2-long');
      await expectUnchanged(orders.url, before[0]!);
      await expectUnchanged(billing.url, before[1]!);
    });
  }

  it('targets.locked', async () => {
    const c = failureCase('targets.locked');
    const file = writeTargets();
    const holder = await connectTo(billing.url, 'upkit upgrade ops-host 4242');
    try {
      await holder.query('select pg_advisory_lock($1::int, $2::int)', [LOCK_KEY.classId, LOCK_KEY.objId]);
      const { pid, client, started } = (
        await holder.query(
          `select pg_backend_pid() as pid, host(inet_client_addr()) as client, ` +
            `backend_start as started from pg_stat_activity where pid = pg_backend_pid()`,
        )
      ).rows[0];
      const before = await dbState(billing.url);
      const r = await runCase(
        { ...c, args: [...c.args, ...backupArgs()] },
        { ...vars(file), pid, client, time: (started as Date).toISOString() },
        { cwd },
      );
      expectCase(r, c, r.vars);
      await expectUnchanged(billing.url, before);
      const report = r.json<TargetsReport>();
      expect(report.targets.map((t) => [t.name, t.result, t.exitCode])).toEqual([
        ['orders', 'ok', 0],
        ['billing', 'locked', 5],
      ]);
      expect(await ledgerRows(orders.url)).toBe(1);
      expect(await runsOf(orders.url)).toEqual([{ command: 'upgrade', status: 'ok' }]);
    } finally {
      await holder.end();
    }
  });

  it('targets.wrong-password', async () => {
    const c = failureCase('targets.wrong-password');
    const file = writeTargets();
    const before = await dbState(billing.url);
    const r = await runCase({ ...c, args: [...c.args, ...backupArgs()] }, vars(file), { cwd });
    expectCase(r, c, r.vars);
    expect(r.stderr + r.stdout + logs(r.logDir)).not.toContain('not-the-password');
    await expectUnchanged(billing.url, before);
    const report = r.json<TargetsReport>();
    expect(report.targets.map((t) => [t.name, t.result, t.exitCode])).toEqual([
      ['orders', 'ok', 0],
      ['billing', 'refused', 3],
    ]);
    expect(await ledgerRows(orders.url)).toBe(1);
  });
});
