// Catalogue case: a lock that blocks verify names who holds it (pid, user, application, age,
// query) and exits 5, not 3 with a hint about privileges.
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { buildRelease } from '../support/releases.ts';

describe('failure catalogue: verify behind a lock', () => {
  const db = useFreshDatabase();

  it('verify.locked', async () => {
    await withClientAt(db().url, (c) => buildRelease(c, 'v2.3'));
    const before = await dbState(db().url);
    const blocker = await connectTo(db().url, 'pulse-api report');
    try {
      const { pid, user } = (await blocker.query('select pg_backend_pid() as pid, current_user as user')).rows[0];
      await blocker.query('begin');
      await blocker.query('lock table organizations in access exclusive mode');
      const c = failureCase('verify.locked');
      const r = await runCase(c, { url: db().url, pid, user });
      expectCase(r, c, r.vars);
      expect((await blocker.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      await blocker.query('rollback').catch(() => {});
      await blocker.end();
    }
    await expectUnchanged(db().url, before);
  });
});
