// Many databases in one run: eleven service databases (each an app with its own drizzle
// folder) on the test server and a twelfth on a second, throwaway server, named in one
// targets file whose connections come from .env (URLs and DB_*-style prefixes).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import type { TargetsReport } from '../../lib/targets/report.ts';
import { tempDir } from '../failures/check.ts';
import { column, table, writeAppFolder } from '../support/appFolders.ts';
import { runUpkit, type RunResult } from '../support/cli.ts';
import {
  backupArgs,
  backupsTestable,
  connectTo,
  freshDatabase,
  serverInfo,
  withClientAt,
  type TestDatabase,
} from '../support/database.ts';
import { findSystemInstalls } from '../support/servers/discover.ts';
import { startSystemServer } from '../support/servers/system.ts';
import type { ServerHandle } from '../support/servers/common.ts';

const NAMES = Array.from({ length: 12 }, (_, i) => `svc${String(i + 1).padStart(2, '0')}`);
/** svc03 comes after svc01 and svc02; svc12 (the second server) after svc11. */
const AFTER: Record<string, string[]> = { svc03: ['svc01', 'svc02'], svc12: ['svc11'] };

function migrations(name: string, count: number) {
  const all = [
    { tag: '0000_init', sql: `CREATE TABLE "${name}_items" ("id" integer PRIMARY KEY NOT NULL);` },
    { tag: '0001_note', sql: `ALTER TABLE "${name}_items" ADD COLUMN "note" text;` },
    { tag: '0002_qty', sql: `ALTER TABLE "${name}_items" ADD COLUMN "qty" integer;` },
  ].slice(0, count);
  const cols = [
    column('id', 'integer', { primaryKey: true, notNull: true }),
    column('note', 'text'),
    column('qty', 'integer'),
  ].slice(0, count);
  return { all, snapshot: { tables: Object.fromEntries([table('public', `${name}_items`, cols)]) } };
}

function writeApps(cwd: string, count: number): void {
  for (const name of NAMES) {
    const m = migrations(name, count);
    writeAppFolder(m.all, m.snapshot, path.join(cwd, 'apps', name));
  }
}

interface Service {
  name: string;
  url: string;
}

describe('targets: eleven service databases and one on a second server', () => {
  let other: ServerHandle;
  const created: TestDatabase[] = [];
  const services: Service[] = [];
  let cwd: string;
  const urlOf = (name: string) => services.find((s) => s.name === name)!.url;

  beforeAll(async () => {
    const binDir = serverInfo().binDir ?? (await findSystemInstalls())[0]?.binDir;
    expect(binDir, 'PostgreSQL server programs to start a second cluster').toBeTruthy();
    other = await startSystemServer({ binDir: binDir! });
    for (const name of NAMES.slice(0, 11)) {
      const db = await freshDatabase();
      created.push(db);
      services.push({ name, url: db.url });
    }
    await withClientAt(other.adminUrl, (c) => c.query('create database svc12'));
    const u = new URL(other.adminUrl);
    u.pathname = '/svc12';
    services.push({ name: 'svc12', url: u.toString() });

    cwd = tempDir('upkit-targets-');
    writeApps(cwd, 2);
    // Odd services by URL, even ones by prefix; the second server's by prefix too.
    const env: string[] = [];
    const targets = services.map(({ name, url }, i) => {
      const entry: Record<string, unknown> = {
        name,
        profile: { drizzleDir: `apps/${name}` },
        ...(AFTER[name] ? { after: AFTER[name] } : {}),
      };
      const upper = name.toUpperCase();
      if (i % 2 === 0) {
        entry.url = `${upper}_DATABASE_URL`;
        env.push(`${upper}_DATABASE_URL=${url}`);
      } else {
        entry.prefix = `${upper}_`;
        const p = new URL(url);
        env.push(
          `${upper}_DB_HOST=${p.hostname}`,
          `${upper}_DB_PORT=${p.port}`,
          `${upper}_DB_USER=${decodeURIComponent(p.username)}`,
          `${upper}_DB_PASSWORD='${decodeURIComponent(p.password)}'`,
          `${upper}_DB_NAME=${p.pathname.slice(1)}`,
        );
      }
      return entry;
    });
    writeFileSync(path.join(cwd, '.env'), `${env.join('\n')}\n`);
    writeFileSync(path.join(cwd, 'upkit.targets.json'), JSON.stringify({ targets }, null, 2));
  }, 240_000);

  afterAll(async () => {
    await Promise.all(created.map((d) => d.drop()));
    await other?.stop();
  }, 120_000);

  const upkit = (entry: string, args: string[]) => runUpkit(entry, args, { cwd, timeoutMs: 240_000 });
  const ledger = (name: string) =>
    withClientAt(
      urlOf(name),
      async (c) =>
        (
          await c
            .query<{ hash: string }>(`select hash from drizzle.__drizzle_migrations order by id`)
            .catch(() => ({ rows: [] }))
        ).rows.length,
    );
  const runsOf = (name: string) =>
    withClientAt(
      urlOf(name),
      async (c) =>
        (
          await c
            .query<{ status: string; started_at: Date; finished_at: Date }>(
              `select status, started_at, finished_at from upkit.runs order by started_at`,
            )
            .catch(() => ({ rows: [] }))
        ).rows,
    );
  const byName = (r: RunResult) => new Map(r.json<TargetsReport>().targets.map((t) => [t.name, t]));

  async function holdingLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const holder = await connectTo(urlOf(name), 'upkit upgrade ops-host 4242');
    try {
      await holder.query('select pg_advisory_lock($1::int, $2::int)', [LOCK_KEY.classId, LOCK_KEY.objId]);
      return await fn();
    } finally {
      await holder.end();
    }
  }

  it('--dry-run covers every target and changes nothing', async () => {
    const r = await upkit('upgrade.ts', ['--all', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = r.json<TargetsReport>();
    expect(
      report.targets.map((t) => [t.name, t.exitCode, (t.report!.plan as { steps: unknown[] }).steps.length]),
    ).toEqual(NAMES.map((n) => [n, 0, 2]));
    for (const name of NAMES) expect(await ledger(name)).toBe(0);
  }, 240_000);

  it('--all --concurrency 4: all converge but the locked one, ' +
    'which exits 5 on its own; after is honoured', async () => {
    const r = await holdingLock('svc05', () =>
      upkit('upgrade.ts', ['--all', '--concurrency', '4', '--yes', '--no-containers', '--json', ...backupArgs()]),
    );
    expect(r.code, r.stderr).toBe(5);
    const report = r.json<TargetsReport>();
    expect(report.exitCode).toBe(5);
    expect(report.exitOrder).toEqual([1, 6, 4, 5, 3, 2, 130, 0]);
    expect(report.targets.map((t) => [t.name, t.result, t.exitCode])).toEqual(
      NAMES.map((n) => (n === 'svc05' ? [n, 'locked', 5] : [n, 'ok', 0])),
    );
    const svc05 = report.targets.find((t) => t.name === 'svc05')!;
    expect(svc05.report!.findings.map((f) => f.code)).toContain('lock.held');
    expect(report.findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/^svc05: another upkit run holds the lock on /),
    ]);
    // Every other database converged: drizzle's ledger has both entries, the run is recorded ok.
    for (const name of NAMES) {
      expect(await ledger(name), name).toBe(name === 'svc05' ? 0 : 2);
      expect(
        (await runsOf(name)).map((x) => x.status),
        name,
      ).toEqual(name === 'svc05' ? [] : ['ok']);
      const t = report.targets.find((x) => x.name === name)!;
      if (name !== 'svc05') {
        expect(t.report!.applied.map((a) => a.name)).toEqual(['0000_init', '0001_note']);
        if (backupsTestable())
          expect(t.report!.backup!.path.startsWith(path.join(cwd, 'backups', name) + path.sep), name).toBe(true);
      }
    }
    // `after`, as the databases recorded it: a dependent's run started after its dependencies' runs finished.
    for (const [name, deps] of Object.entries(AFTER)) {
      const started = (await runsOf(name))[0]!.started_at.getTime();
      for (const d of deps)
        expect(started, `${name} after ${d}`).toBeGreaterThanOrEqual((await runsOf(d))[0]!.finished_at.getTime());
    }
    // Never more than four at once, by the report's own start and finish times.
    const spans = report.targets.map((t) => [Date.parse(t.startedAt!), Date.parse(t.finishedAt!)] as const);
    const most = Math.max(...spans.map(([s]) => spans.filter(([a, b]) => a <= s && s < b).length));
    expect(most).toBeLessThanOrEqual(4);
    // The table: one row per target, and the locked target's own line and hint under it.
    expect(r.stderr).toMatch(/^svc05 +- +locked \(exit 5\) +\d/m);
    expect(r.stderr).toMatch(/^svc12 +empty → 0001_note +ok /m);
    expect(r.stderr).toContain(
      '  → wait for it to finish (npx zx scripts/status.ts --target svc05 shows it); nothing was changed',
    );
    for (const s of services) expect(r.stderr + r.stdout).not.toContain(new URL(s.url).password);
  }, 240_000);

  it('--target runs only the named targets', async () => {
    const r = await upkit('upgrade.ts', ['--target', 'svc05', '--yes', '--no-containers', '--json', ...backupArgs()]);
    expect(r.code, r.stderr).toBe(0);
    expect([...byName(r).keys()]).toEqual(['svc05']);
    expect(await ledger('svc05')).toBe(2);
    const s = await upkit('scripts/status.ts', ['--target=svc12', '--target', 'svc01', '--json']);
    expect(s.code, s.stderr).toBe(0);
    expect([...byName(s).keys()]).toEqual(['svc01', 'svc12']);
  }, 240_000);

  it('verify, status, preflight and backup with --all', async () => {
    for (const entry of [
      'verify/index.ts',
      'scripts/status.ts',
      'scripts/preflight.ts',
      ...(backupsTestable() ? ['scripts/backup.ts'] : []),
    ]) {
      // Where no pg_dump here can dump the server, preflight skips its pg_dump and backup space checks.
      const r = await upkit(entry, ['--all', '--json', ...(entry === 'scripts/preflight.ts' ? backupArgs() : [])]);
      expect(r.code, `${entry}\n${r.stderr}`).toBe(0);
      const report = r.json<TargetsReport>();
      expect(report.command).toBe(entry.replace(/^.*\//, '').replace('index.ts', 'verify.ts').replace('.ts', ''));
      expect(
        report.targets.map((t) => [t.name, t.result]),
        entry,
      ).toEqual(NAMES.map((n) => [n, 'ok']));
      if (entry !== 'scripts/preflight.ts')
        for (const t of report.targets) expect(t.report!.release.to, `${entry} ${t.name}`).toBe('0001_note');
    }
    // A person's view: each target's own result text, then the table (stdout without --json).
    const status = await upkit('scripts/status.ts', ['--all']);
    expect(status.stdout).toContain('── svc12 ──\nsvc12: 0001_note, up to date');
    expect(status.stdout).toMatch(/^svc07 +0001_note → 0001_note +ok /m);
  }, 240_000);

  it('--fail-fast starts no target after a failure; the ones not started are skipped', async () => {
    writeApps(cwd, 3);
    const r = await holdingLock('svc01', () =>
      upkit('upgrade.ts', [
        '--all',
        '--fail-fast',
        '--concurrency',
        '1',
        '--yes',
        '--no-containers',
        '--json',
        ...backupArgs(),
      ]),
    );
    expect(r.code, r.stderr).toBe(5);
    const targets = byName(r);
    expect(targets.get('svc01')).toMatchObject({ result: 'locked', exitCode: 5 });
    for (const name of NAMES.slice(1)) {
      expect(targets.get(name), name).toMatchObject({ result: 'skipped', exitCode: null, report: null });
      expect(targets.get(name)!.reason).toBe(
        name === 'svc03' ? 'after svc01, which ended with exit 5' : 'not started: --fail-fast after svc01 failed',
      );
      expect(await ledger(name), name).toBe(2);
    }
    expect(r.stderr).toMatch(/^svc02 +- +skipped: not started: --fail-fast after svc01 failed/m);
    // Without --fail-fast, the same lock stops only svc01 and the one that comes after it.
    const again = await holdingLock('svc01', () =>
      upkit('upgrade.ts', ['--all', '--yes', '--no-containers', '--json', ...backupArgs()]),
    );
    expect(again.code, again.stderr).toBe(5);
    expect([...byName(again).values()].map((t) => [t.name, t.result])).toEqual(
      NAMES.map((n) => [n, n === 'svc01' ? 'locked' : n === 'svc03' ? 'skipped' : 'ok']),
    );
    for (const name of NAMES) expect(await ledger(name), name).toBe(name === 'svc01' || name === 'svc03' ? 2 : 3);
  }, 300_000);
});
