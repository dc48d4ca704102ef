// Start-up mode (docs/startup.md): eight replicas of an app boot together, each with
// plain `node` running a script that imports 'upkit' (a folder dependency of the app) and
// calls upgrade({ waitForLockSeconds }). The second migration waits on a server lock the test
// holds, so that every other replica is seen waiting for the run lock before it goes on.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import { tempDir } from '../failures/check.ts';
import { backupTests, connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { APP_MIGRATIONS, boot, GATE_KEY, startupApp, type Boot } from '../support/startupApp.ts';
import { untilFound } from '../support/wait.ts';

const REPLICAS = 8;

/**
 * Sessions of this database waiting for an advisory lock (the run lock, or the gate), with what pg_stat_activity says
 * of them.
 */
async function waiting(
  url: string,
): Promise<Array<{ pid: number; objid: number; application: string; waitType: string; waitEvent: string }>> {
  return withClientAt(
    url,
    async (c) =>
      (
        await c.query(
          `select l.pid, l.objid::int as objid, a.application_name as application, ` +
            `a.wait_event_type as "waitType", a.wait_event as "waitEvent"
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and not l.granted and l.database ` +
            `= (select oid from pg_database where datname = current_database())`,
        )
      ).rows,
  );
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

  it(`${REPLICAS} replicas: one applies each migration, ` +
    `the others wait, plan again, take no backup, verify and return ok`, async () => {
    const app = startupApp();
    const backups = tempDir('upkit-boot-bk-');
    const env = {
      UPKIT_CACHE_DIR: tempDir('upkit-boot-cache-'),
      UPKIT_LOG_DIR: tempDir('upkit-boot-logs-'),
      LOCK_TIMEOUT: '120000',
    };
    const options = { databaseUrl: db().url, drizzleDir: './drizzle', waitForLockSeconds: 150, backupDir: backups };
    const gate = await connectTo(db().url, 'test gate');
    let replicas: Array<Promise<Boot>> = [];
    try {
      await gate.query('select pg_advisory_lock($1)', [GATE_KEY]);
      replicas = Array.from({ length: REPLICAS }, () => boot(app, [{ fn: 'upgrade', options }], env));
      // One replica migrates and waits at 0001 for the gate; every other one waits for the run lock.
      const seen = await untilFound(
        async () => {
          // pg_locks lists a request a moment before pg_stat_activity shows the wait.
          const w = (await waiting(db().url)).filter((x) => x.waitEvent !== null);
          const atGate = w.filter((x) => x.objid === GATE_KEY);
          const forRun = w.filter((x) => x.objid === LOCK_KEY.objId);
          return atGate.length === 1 && forRun.length === REPLICAS - 1 ? { atGate, forRun } : undefined;
        },
        {
          what: 'one migrator at the gate and the others waiting for the run lock',
          ends: replicas,
          everyMs: 100,
          timeoutMs: 120_000,
        },
      );
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
      const ledger = (
        await c.query(`select hash, created_at::text as at from drizzle.__drizzle_migrations order by id`)
      ).rows;
      expect(ledger).toHaveLength(APP_MIGRATIONS.length);
      expect(new Set(ledger.map((l) => l.at)).size).toBe(APP_MIGRATIONS.length);
      const runs = (await c.query(`select command, status, report->'applied' as applied from upkit.runs`)).rows;
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ command: 'upgrade', status: 'ok' });
      expect((runs[0].applied as unknown[]).length).toBe(APP_MIGRATIONS.length);
      // Nothing is left waiting or holding.
      expect(
        (
          await c.query(
            `select count(*)::int as n from pg_locks where locktype = 'advisory' and ` +
              `database = (select oid from pg_database where datname = current_database())`,
          )
        ).rows[0].n,
      ).toBe(0);
    });
  }, 240_000);

  it(
    'the library never calls process.exit, writes nothing to stdout, ' + 'adds no signal handler, whatever the outcome',
    async () => {
      const app = startupApp();
      const env = { UPKIT_CACHE_DIR: tempDir('upkit-boot-cache-'), UPKIT_LOG_DIR: tempDir('upkit-boot-logs-') };
      const url = db().url;
      const holder = await connectTo(url, 'upkit upgrade ops-host 4242');
      const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      let b: Boot;
      try {
        await holder.query('select pg_advisory_lock($1::int, $2::int)', [LOCK_KEY.classId, LOCK_KEY.objId]);
        b = await boot(
          app,
          [
            // A bad option, no database configured, the lock held past the wait, a stop while waiting.
            { fn: 'upgrade', options: { databaseUrl: url, drizzleDir: './drizzle', waitForLockSeconds: 0 } },
            { fn: 'upgrade', options: { env: {}, drizzleDir: './drizzle' } },
            { fn: 'upgrade', options: { databaseUrl: url, drizzleDir: './drizzle', waitForLockSeconds: 1 } },
            {
              fn: 'upgrade',
              options: { databaseUrl: url, drizzleDir: './drizzle', waitForLockSeconds: 60 },
              abortOnWait: true,
            },
          ],
          env,
        );
      } finally {
        await holder.end();
      }
      // The lock is free now: an upgrade without a backup, a dry run, verify.
      const after = await boot(
        app,
        [
          {
            fn: 'upgrade',
            options: { databaseUrl: url, drizzleDir: './drizzle', backup: false, waitForLockSeconds: 5 },
          },
          { fn: 'upgrade', options: { databaseUrl: url, drizzleDir: './drizzle', dryRun: true } },
          { fn: 'verify', options: { databaseUrl: url, drizzleDir: './drizzle' } },
        ],
        env,
      );
      for (const x of [b, after]) expectNothingDoneToTheProcess(x);
      const summary = [...b.results, ...after.results].map((r) => ({
        exitCode: r.exitCode,
        status: r.status,
        codes: r.report.findings.filter((f) => f.severity === 'error').map((f) => f.code),
      }));
      expect(summary, b.stderr + after.stderr).toEqual([
        { exitCode: 2, status: 'usage', codes: ['usage'] },
        { exitCode: 2, status: 'usage', codes: ['config.invalid'] },
        { exitCode: 5, status: 'locked', codes: ['lock.held'] },
        { exitCode: 130, status: 'interrupted', codes: ['interrupted'] },
        { exitCode: 0, status: 'ok', codes: [] },
        { exitCode: 0, status: 'ok', codes: [] },
        { exitCode: 0, status: 'ok', codes: [] },
      ]);
      expect(b.results[2]!.report.findings[0]!.message).toMatch(
        new RegExp(
          `^another upkit run still holds the lock on ${db().database} after 1 s of ` +
            `waiting \\(--wait-for-lock 1\\): pid ${holderPid} \\(upkit upgrade ops-host 4242 `,
        ),
      );
      expect(b.results[3]!.report.findings[0]!.message).toBe(
        `interrupted while waiting for the run lock on ${db().database}; nothing was changed`,
      );
      expect(after.results[0]!.report).toMatchObject({ backup: null, outcome: 'ok' });
      expect(after.results[0]!.report.applied).toHaveLength(APP_MIGRATIONS.length);
      // Progress went to the stream given (stderr by default), never to stdout.
      expect(b.stderr).toContain('waiting up to 60 s for it (--wait-for-lock)');
    },
  );

  it(
    'works from a copy inside node_modules, ' + 'as a git dependency is installed (Node strips no types there)',
    async () => {
      const app = startupApp({ copy: true });
      const b = await boot(
        app,
        [
          {
            fn: 'upgrade',
            options: { databaseUrl: db().url, drizzleDir: './drizzle', backup: false, waitForLockSeconds: 5 },
          },
        ],
        { UPKIT_CACHE_DIR: tempDir('upkit-boot-cache-'), UPKIT_LOG_DIR: tempDir('upkit-boot-logs-') },
      );
      expectNothingDoneToTheProcess(b);
      expect(b.results[0], b.stderr).toMatchObject({ ok: true, exitCode: 0, status: 'ok' });
      expect(b.results[0]!.report.applied).toHaveLength(APP_MIGRATIONS.length);
    },
  );
});
