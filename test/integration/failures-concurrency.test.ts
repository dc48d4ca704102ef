// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): other sessions. A second
// run is refused at once (exit 5); a run that died is marked crashed by the next; a table
// lock the application keeps is waited for within LOCK_TIMEOUT, retried, then given up on
// naming the session that holds it (exit 3).
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import { ensureLedger, startRun } from '../../lib/ledger.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import { backupTests, connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';

describe('failure catalogue: concurrency', () => {
  const db = useFreshDatabase();

  it('conc.second-run', async () => {
    await asRelease(db(), 'v2.2');
    const holder = await connectTo(db().url, 'upkit upgrade ops-host 4242');
    try {
      await holder.query('select pg_advisory_lock($1::int, $2::int)', [LOCK_KEY.classId, LOCK_KEY.objId]);
      const { pid, client, started } = (
        await holder.query(
          `select pg_backend_pid() as pid, host(inet_client_addr()) as client, ` +
            `backend_start as started from pg_stat_activity where pid = pg_backend_pid()`,
        )
      ).rows[0];
      const c = failureCase('conc.second-run');
      const before = await dbState(db().url);
      const r = await runCase(c, {
        url: db().url,
        database: db().database,
        pid,
        client,
        time: (started as Date).toISOString(),
      });
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
    } finally {
      await holder.end();
    }
  });

  it('conc.stale-run', backupTests(), async () => {
    await asRelease(db(), 'v2.2');
    const started = await withClientAt(db().url, async (c) => {
      await ensureLedger(c);
      await startRun(c, {
        id: '00000000-0000-4000-8000-000000000001',
        command: 'upgrade',
        releaseFrom: 'v2.2',
        releaseTo: 'v2.3',
        toolVersion: '0.1.0',
      });
      return (await c.query(`select started_at from upkit.runs`)).rows[0].started_at as Date;
    });
    const c = failureCase('conc.stale-run');
    const r = await runCase(c, {
      url: db().url,
      backups: tempDir('upkit-case-bk-'),
      started: started.toISOString(),
      runHost: hostname(),
      runPid: process.pid,
    });
    expectCase(r, c, r.vars);
    expect(await runsOf(db().url)).toEqual([
      { command: 'upgrade', status: 'crashed' },
      { command: 'upgrade', status: 'ok' },
    ]);
    expect(
      await withClientAt(db().url, (x) => x.query('select count(*)::int as n from drizzle.__drizzle_migrations')),
    ).toMatchObject({ rows: [{ n: 4 }] });
  });

  it('conc.lock-timeout', backupTests(), async () => {
    await asRelease(db(), 'v2.2');
    const c = await connectTo(db().url);
    const blocker = await connectTo(db().url, 'pulse-api report');
    try {
      const before = {
        fp: await schemaFingerprint(c),
        rows: await rowSnapshot(c),
        drizzle: await rowSnapshot(c, 'drizzle'),
      };
      const pid = (await blocker.query('select pg_backend_pid() as pid')).rows[0].pid;
      await blocker.query('begin');
      await blocker.query('select count(*) from aws_integrations');
      const fc = failureCase('conc.lock-timeout');
      const r = await runCase(fc, { url: db().url, backups: tempDir('upkit-case-bk-'), pid });
      expectCase(r, fc, r.vars);
      expect(await schemaFingerprint(c)).toEqual(before.fp);
      expect(await rowSnapshot(c)).toEqual(before.rows);
      expect(await rowSnapshot(c, 'drizzle')).toEqual(before.drizzle);
      expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'refused' }]);
    } finally {
      await blocker.query('rollback').catch(() => {});
      await Promise.all([c.end(), blocker.end()]);
    }
  });
});
