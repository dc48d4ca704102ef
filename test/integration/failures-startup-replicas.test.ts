// Start-up mode (README "Start-up mode"): eight replicas of an app boot together, each with
// plain `node` running a script that imports 'upkit' (a folder dependency of the app) and
// calls upgrade({ waitForLockSeconds }). The second migration waits on a server lock the test
// holds, so that every other replica is seen waiting for the run lock before it goes on.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import { tempDir } from '../failures/check.ts';
import { backupTests, connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { APP_MIGRATIONS, boot, GATE_KEY, startupApp, type Boot } from '../support/startupApp.ts';

const REPLICAS = 8;

/** Sessions of this database waiting for an advisory lock (the run lock, or the gate), with what pg_stat_activity says of them. */
async function waiting(url: string): Promise<Array<{ pid: number; objid: number; application: string; waitType: string; waitEvent: string }>> {
  return withClientAt(url, async (c) => (await c.query(
    `select l.pid, l.objid::int as objid, a.application_name as application, a.wait_event_type as "waitType", a.wait_event as "waitEvent"
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and not l.granted and l.database = (select oid from pg_database where datname = current_database())`,
  )).rows);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ends: Array<Promise<unknown>>): Promise<T> {
  let ended = false;
  void Promise.race(ends).then(() => (ended = true), () => (ended = true));
  for (let i = 0; i < 1200; i++) {
    const found = await probe();
    if (found !== undefined) return found;
    if (ended) throw new Error(`a replica ended before ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never saw ${what}`);
}

function expectNothingDoneToTheProcess(b: Boot): void {
  expect(b.code, b.stderr).toBe(0);
  expect(b.stdout).toEqual([]);
  expect(b.exits).toEqual([]);
  expect(b.after).toEqual(b.before);
  expect(b.exitCode).toBeNull();
}

describe('start-up mode: replicas that boot together', backupTests(), () => {
  const db = useFreshDatabase();

  it(`${REPLICAS} replicas: one applies each migration, the others wait, plan again, take no backup, verify and return ok`, async () => {
    const app = startupApp();
    const backups = tempDir('upkit-boot-bk-');
    const env = { UPKIT_CACHE_DIR: tempDir('upkit-boot-cache-'), UPKIT_LOG_DIR: tempDir('upkit-boot-logs-'), LOCK_TIMEOUT: '120000' };
    const options = { databaseUrl: db().url, drizzleDir: './drizzle', waitForLockSeconds: 150, backupDir: backups };
    const gate = await connectTo(db().url, 'test gate');
    let replicas: Array<Promise<Boot>> = [];
    try {
      await gate.query('select pg_advisory_lock($1)', [GATE_KEY]);
      replicas = Array.from({ length: REPLICAS }, () => boot(app, [{ fn: 'upgrade', options }], env));
      // One replica migrates and waits at 0001 for the gate; every other one waits for the run lock.
      const seen = await until('one migrator at the gate and the others waiting for the run lock', async () => {
        const w = await waiting(db().url);
        const atGate = w.filter((x) => x.objid === GATE_KEY);
        const forRun = w.filter((x) => x.objid === LOCK_KEY.objId);
        return atGate.length === 1 && forRun.length === REPLICAS - 1 ? { atGate, forRun } : undefined;
      }, replicas);
      for (const s of seen.forRun) {
        expect(s).toMatchObject({ waitType: 'Lock', waitEvent: 'advisory' });
        expect(s.application).toMatch(/^upkit upgrade /);
      }
      expect(seen.atGate[0]!.application).toBe('upkit upgrade migrations');
    } finally {
      await gate.query('select pg_advisory_unlock_all()').catch(() => {});
      await gate.end();
    }
    const boots = await Promise.all(replicas);

    for (const b of boots) {
      expectNothingDoneToTheProcess(b);
      const [r] = b.results;
      expect(r, b.stderr).toMatchObject({ ok: true, exitCode: 0, status: 'ok' });
    }
    const reports = boots.map((b) => b.results[0]!.report);
    const migrators = reports.filter((r) => r.applied.length > 0);
    expect(migrators).toHaveLength(1);
    expect(migrators[0]!.applied.map((a) => a.name)).toEqual(APP_MIGRATIONS.map((m) => m.tag));
    expect(migrators[0]!.outcome).toBe('ok');
    expect(migrators[0]!.backup).not.toBeNull();
    const waiters = reports.filter((r) => r.applied.length === 0);
    expect(waiters).toHaveLength(REPLICAS - 1);
    for (const r of waiters) {
      expect(r.backup).toBeNull();
      expect(r.changes).toEqual({ made: false, steps: 0 });
      expect(r.findings.filter((f) => f.code === 'lock.waited')).toHaveLength(1);
      expect(r.findings.filter((f) => f.severity !== 'info')).toEqual([]);
      expect(r.phases.find((p) => p.name === 'verify')).toMatchObject({ status: 'ok' });
    }
    // One backup file (and its manifest) in the folder: the migrator's.
    expect(readdirSync(backups).filter((f) => f.endsWith('.dump'))).toHaveLength(1);

    await withClientAt(db().url, async (c) => {
      const ledger = (await c.query(`select hash, created_at::text as at from drizzle.__drizzle_migrations order by id`)).rows;
      expect(ledger).toHaveLength(APP_MIGRATIONS.length);
      expect(new Set(ledger.map((l) => l.at)).size).toBe(APP_MIGRATIONS.length);
      const runs = (await c.query(`select command, status, report->'applied' as applied from upkit.runs`)).rows;
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ command: 'upgrade', status: 'ok' });
      expect((runs[0].applied as unknown[]).length).toBe(APP_MIGRATIONS.length);
      // Nothing is left waiting or holding.
      expect((await c.query(`select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`)).rows[0].n).toBe(0);
    });
  }, 240_000);
});
