// Catalogue case (test/failures/catalogue.ts, docs/FAILURES.md): verify while an upgrade runs.
// It says which run holds upkit's lock (pid, host, start, run id) and exits 5; the rest of its
// report is still there, and the upgrade, untouched by it, finishes.
import { describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { expectCase, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import { until, waitingOn } from '../failures/interrupt.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, connectTo, useFreshDatabase } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe('failure catalogue: verify beside a running upgrade', backupTests(), () => {
  const db = useFreshDatabase();

  it('out.verify-running', async () => {
    await asRelease(db(), 'v2.2');
    const watcher = await connectTo(db().url);
    const blocker = await connectTo(db().url, 'pulse-api report');
    try {
      await blocker.query('begin');
      await blocker.query('select count(*) from aws_integrations');
      const upgrade = runUpkit('upgrade.ts', ['--yes'], {
        env: { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-case-bk-'), LOCK_TIMEOUT: '60000' },
      });
      let finished = false;
      void upgrade.then(() => (finished = true));
      await until(
        async () => finished || (await waitingOn(watcher, /ALTER TABLE|aws_integrations/i)()),
        'the upgrade to wait on aws_integrations',
      );
      expect(finished, 'the upgrade ended before it reached 0003').toBe(false);
      const run = (await watcher.query(`select id, host, pid, started_at from upkit.runs where status = 'running'`))
        .rows[0];
      // The session that holds upkit's run lock (the upgrade has others: its migrations' session).
      const backendPid = (
        await watcher.query(
          `select pid from pg_locks where locktype = 'advisory' and granted and ` +
            `database = (select oid from pg_database where datname = current_database())`,
        )
      ).rows[0].pid;

      const fc = failureCase('out.verify-running');
      const r = await runCase(fc, {
        url: db().url,
        database: db().database,
        runId: run.id,
        runPid: run.pid,
        runHost: run.host,
        time: (run.started_at as Date).toISOString(),
        backendPid,
      });
      expectCase(r, fc, r.vars);
      // The rest of the report is there: the migration in progress is listed as pending.
      const report = r.json<Report>();
      expect(report.findings.map((f) => f.code)).toContain('ledger.pending');

      await blocker.query('rollback');
      const u = await upgrade;
      expect(u.code, u.stderr).toBe(0);
      expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'ok' }]);
    } finally {
      await blocker.query('rollback').catch(() => {});
      await Promise.all([watcher.end(), blocker.end()]);
    }
  });
});
