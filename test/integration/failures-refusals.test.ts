// Catalogue cases (test/failures/hardening/refusals.ts, docs/FAILURES.md): what can be known
// before the first write is checked before it. A busy lock is a refusal, never a reason to
// fall back to the legacy files one by one.
import { describe, expect, it } from 'vitest';
import { expectCase, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import { backupTests, connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { buildRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';

describe('failure catalogue: refusals before the first write (locks)', () => {
  const db = useFreshDatabase();

  it('conc.lock-timeout-legacy', backupTests(), async () => {
    const c = await connectTo(db().url);
    const blocker = await connectTo(db().url, 'pulse-api report');
    try {
      await buildRelease(c, 'v1.0');
      const before = { fp: await schemaFingerprint(c), rows: await rowSnapshot(c) };
      const pid = (await blocker.query('select pg_backend_pid() as pid')).rows[0].pid;
      await blocker.query('begin');
      await blocker.query('select count(*) from users');
      const fc = failureCase('conc.lock-timeout-legacy');
      const r = await runCase(fc, { url: db().url, backups: tempDir('upkit-case-bk-'), pid });
      expectCase(r, fc, r.vars);
      // The files one by one were never tried.
      expect(r.stderr).not.toContain('applying the legacy files one by one');
      expect(await schemaFingerprint(c)).toEqual(before.fp);
      expect(await rowSnapshot(c)).toEqual(before.rows);
      expect((await c.query(`select count(*)::int as n from upkit.legacy_migrations`)).rows[0].n).toBe(0);
      expect(await withClientAt(db().url, (x) => x.query(`select to_regclass('drizzle.__drizzle_migrations') as t`))).toMatchObject({ rows: [{ t: null }] });
      expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'refused' }]);
    } finally {
      await blocker.query('rollback').catch(() => {});
      await Promise.all([c.end(), blocker.end()]);
    }
  });
});
