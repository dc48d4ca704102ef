// Catalogue cases (test/failures/hardening/startup.ts, docs/FAILURES.md) and the flag itself:
// `upgrade.ts --wait-for-lock SECONDS` waits in the server's lock queue (seen in
// pg_stat_activity), plans again once it has the lock, and returns 0 with nothing to do; a
// wait that runs out is exit 5 naming the holder; a stop while waiting changes nothing.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import { dbState, expectCase, expectUnchanged, failureCase, plainLines, runCase, tempDir } from '../failures/check.ts';
import { runUpkit, type RunResult } from '../support/cli.ts';
import { backupTests, connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { APP_MIGRATIONS, GATE_KEY, startupApp } from '../support/startupApp.ts';
import type pg from 'pg';
import { untilFound } from '../support/wait.ts';

/** Upgrade sessions of this database waiting for the run lock, as pg_stat_activity shows them. */
async function waitingForRunLock(
  url: string,
): Promise<Array<{ pid: number; application: string; waitType: string; waitEvent: string; state: string }>> {
  return withClientAt(
    url,
    async (c) =>
      (
        await c.query(
          `select a.pid, a.application_name as application, ` +
            `a.wait_event_type as "waitType", a.wait_event as "waitEvent", a.state
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and not l.granted and l.classid = $1 and l.objid = $2
        and l.database = (select oid from pg_database where datname = current_database())`,
          [LOCK_KEY.classId, LOCK_KEY.objId],
        )
      ).rows,
  );
}

/** A session that holds the run lock, named as an upgrade on host ops-host names itself. */
async function holdRunLock(url: string): Promise<{ holder: pg.Client; vars: Record<string, string | number> }> {
  const holder = await connectTo(url, 'upkit upgrade ops-host 4242');
  await holder.query('select pg_advisory_lock($1::int, $2::int)', [LOCK_KEY.classId, LOCK_KEY.objId]);
  const { pid, client, started } = (
    await holder.query(
      `select pg_backend_pid() as pid, host(inet_client_addr()) as client, ` +
        `backend_start as started from pg_stat_activity where pid = pg_backend_pid()`,
    )
  ).rows[0];
  return { holder, vars: { pid, client, time: (started as Date).toISOString() } };
}

describe('start-up mode: upgrade.ts --wait-for-lock', () => {
  const db = useFreshDatabase();

  it('waits while another upgrade migrates, is seen waiting, ' +
    'then plans again: nothing pending, no backup, verified, exit 0', {
    ...backupTests(),
    timeout: 150_000,
  }, async () => {
    const app = startupApp();
    const env = { DATABASE_URL: db().url, LOCK_TIMEOUT: '60000', BACKUP_DIR: tempDir('upkit-wait-bk-') };
    const gate = await connectTo(db().url, 'test gate');
    let first: Promise<RunResult> | undefined;
    let second: Promise<RunResult> | undefined;
    try {
      await gate.query('select pg_advisory_lock($1)', [GATE_KEY]);
      // The first upgrade takes the run lock and stops at 0001, which waits for the gate.
      first = runUpkit('upgrade.ts', ['--yes', '--json', '--drizzle-dir', app.drizzleDir], { env, timeoutMs: 120_000 });
      await untilFound(
        async () => {
          const n = (
            await withClientAt(db().url, (c) =>
              c.query(
                `select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and ` +
                  `objid = $1 and database = (select oid from pg_database where datname = current_database())`,
                [GATE_KEY],
              ),
            )
          ).rows[0].n;
          return n === 1 ? true : undefined;
        },
        { what: 'the first upgrade at the gate', ends: first, everyMs: 50, timeoutMs: 60_000 },
      );
      const holderPid = (
        await withClientAt(db().url, (c) =>
          c.query(
            `select l.pid from pg_locks l where l.locktype = 'advisory' and l.granted and l.classid = $1 and ` +
              `l.objid = $2 and l.database = (select oid from pg_database where datname = current_database())`,
            [LOCK_KEY.classId, LOCK_KEY.objId],
          ),
        )
      ).rows[0].pid as number;
      second = runUpkit('upgrade.ts', ['--yes', '--json', '--wait-for-lock', '30', '--drizzle-dir', app.drizzleDir], {
        env,
        timeoutMs: 120_000,
      });
      const seen = await untilFound(
        async () => {
          // pg_locks lists the request a moment before pg_stat_activity shows the wait.
          const w = (await waitingForRunLock(db().url)).filter((x) => x.waitEvent !== null);
          return w.length === 1 ? w[0] : undefined;
        },
        { what: 'the second upgrade waiting for the run lock', ends: second, everyMs: 50, timeoutMs: 60_000 },
      );
      expect(seen).toMatchObject({ waitType: 'Lock', waitEvent: 'advisory', state: 'active' });
      expect(seen.application).toMatch(/^upkit upgrade /);
      expect(seen.pid).not.toBe(holderPid);
      await gate.query('select pg_advisory_unlock($1)', [GATE_KEY]);
      const [a, b] = await Promise.all([first, second]);
      expect(a.code, a.stderr).toBe(0);
      expect(a.json().applied.map((x) => x.name)).toEqual(APP_MIGRATIONS.map((m) => m.tag));
      expect(b.code, b.stderr).toBe(0);
      const report = b.json();
      expect(report).toMatchObject({
        status: 'ok',
        outcome: 'ok',
        applied: [],
        backup: null,
        changes: { made: false, steps: 0 },
      });
      expect(report.phases.find((p) => p.name === 'verify')).toMatchObject({ status: 'ok' });
      // The log says who holds the lock as the wait begins, and the report how it ended.
      const lines = plainLines(b.stderr);
      expect(
        lines.some(
          (l) =>
            l.startsWith(`another upkit run holds the lock on ${db().database}: pid ${holderPid} (upkit upgrade `) &&
            l.endsWith('; waiting up to 30 s for it (--wait-for-lock)'),
        ),
        b.stderr,
      ).toBe(true);
      expect(report.findings.filter((f) => f.code === 'lock.waited').map((f) => f.message)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^waited \\d.* for the run lock on ${db().database}, ` +
              `held by pid ${holderPid} \\(upkit upgrade .*; the plan is read again now$`,
          ),
        ),
      ]);
      expect(
        lines.some((l) =>
          l.startsWith(`plan: ${db().database} 0002_accounts_name → 0002_accounts_name: nothing to do`),
        ),
        b.stderr,
      ).toBe(true);
      // One backup, the first run's; one run recorded, the first's.
      expect(readdirSync(env.BACKUP_DIR).filter((f) => f.endsWith('.dump'))).toHaveLength(1);
      await withClientAt(db().url, async (c) => {
        expect((await c.query(`select status from upkit.runs`)).rows).toEqual([{ status: 'ok' }]);
        expect((await c.query(`select count(*)::int as n from drizzle.__drizzle_migrations`)).rows[0].n).toBe(
          APP_MIGRATIONS.length,
        );
      });
    } finally {
      await gate.query('select pg_advisory_unlock_all()').catch(() => {});
      await gate.end();
      await Promise.allSettled([first, second]);
    }
  });

  it("a database's own lock_timeout and statement_timeout do not cut the wait short", async () => {
    const app = startupApp();
    await withClientAt(db().url, (c) =>
      c.query(
        `alter database ${c.escapeIdentifier(db().database)} set lock_timeout = '100ms'; ` +
          `alter database ${c.escapeIdentifier(db().database)} set statement_timeout = '500ms'`,
      ),
    );
    const { holder } = await holdRunLock(db().url);
    let run: Promise<RunResult> | undefined;
    try {
      run = runUpkit(
        'upgrade.ts',
        ['--yes', '--json', '--no-backup', '--wait-for-lock', '30', '--drizzle-dir', app.drizzleDir],
        { env: { DATABASE_URL: db().url }, timeoutMs: 120_000 },
      );
      // Held until the wait has lasted twice the database's statement_timeout, by the server's clock.
      await untilFound(
        async () => {
          const w = await withClientAt(db().url, (c) =>
            c.query(
              `select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
            where l.locktype = 'advisory' and not l.granted and l.objid = $1 ` +
                `and l.database = (select oid from pg_database where datname = current_database()) ` +
                `and a.wait_event = 'advisory' and now() - a.query_start > interval '1 s'`,
              [LOCK_KEY.objId],
            ),
          );
          return w.rows[0].n === 1 ? true : undefined;
        },
        { what: 'the upgrade waiting for over a second', ends: run, everyMs: 50, timeoutMs: 60_000 },
      );
      await holder.query('select pg_advisory_unlock_all()');
      const r = await run;
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().applied.map((x) => x.name)).toEqual(APP_MIGRATIONS.map((m) => m.tag));
    } finally {
      await holder.end();
      await run?.catch(() => {});
    }
  });

  it('startup.wait-timeout', async () => {
    const app = startupApp();
    const { holder, vars } = await holdRunLock(db().url);
    try {
      const c = failureCase('startup.wait-timeout');
      const before = await dbState(db().url);
      const r = await runCase(c, { url: db().url, database: db().database, dir: app.drizzleDir, ...vars });
      expectCase(r, c, r.vars);
      expect(plainLines(r.stderr)).toContain(
        `another upkit run holds the lock on ${db().database}: pid ${vars.pid} (upkit upgrade ops-host ` +
          `4242 from ${vars.client}, connected ${vars.time}); waiting up to 1 s for it (--wait-for-lock)`,
      );
      await expectUnchanged(db().url, before);
      expect(await waitingForRunLock(db().url)).toEqual([]);
    } finally {
      await holder.end();
    }
  });

  it('startup.wait-interrupted', async () => {
    const app = startupApp();
    const { holder, vars } = await holdRunLock(db().url);
    try {
      const c = failureCase('startup.wait-interrupted');
      const before = await dbState(db().url);
      let pid = 0;
      const run = runCase(
        c,
        { url: db().url, database: db().database, dir: app.drizzleDir, ...vars },
        { onSpawn: (p) => (pid = p) },
      );
      await untilFound(async () => ((await waitingForRunLock(db().url)).length === 1 ? true : undefined), {
        what: 'the upgrade waiting for the run lock',
        ends: run,
        everyMs: 50,
        timeoutMs: 60_000,
      });
      process.kill(pid, 'SIGTERM');
      const r = await run;
      expectCase(r, c, r.vars);
      expect(await waitingForRunLock(db().url)).toEqual([]);
      await expectUnchanged(db().url, before);
      // The holder still has the lock: the stopped run took nothing from it.
      expect(
        (
          await holder.query(
            `select count(*)::int as n from pg_locks where pid = ` +
              `pg_backend_pid() and locktype = 'advisory' and granted`,
          )
        ).rows[0].n,
      ).toBe(1);
    } finally {
      await holder.end();
    }
  });

  it('startup.wait-ended', async () => {
    const app = startupApp();
    const { holder, vars } = await holdRunLock(db().url);
    try {
      const c = failureCase('startup.wait-ended');
      const before = await dbState(db().url);
      const run = runCase(c, { url: db().url, database: db().database, dir: app.drizzleDir, ...vars });
      const waiter = await untilFound(async () => (await waitingForRunLock(db().url))[0], {
        what: 'the upgrade waiting for the run lock',
        ends: run,
        everyMs: 50,
        timeoutMs: 60_000,
      });
      await withClientAt(db().url, (x) => x.query('select pg_terminate_backend($1)', [waiter.pid]));
      const r = await run;
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
    } finally {
      await holder.end();
    }
  });

  it('startup.wait-bad-value', async () => {
    // The other values refused the same way: test/unit/startup.test.ts.
    const c = failureCase('startup.wait-bad-value');
    const r = await runCase(c);
    expectCase(r, c, r.vars);
  });

  it('startup.wait-dry-run', async () => {
    const c = failureCase('startup.wait-dry-run');
    const r = await runCase(c);
    expectCase(r, c, r.vars);
  });
});
