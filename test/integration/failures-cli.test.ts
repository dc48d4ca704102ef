// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): the command line. Each is
// refused with exit 2 and the command's usage, before the database is touched.
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { useFreshDatabase } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe('failure catalogue: command line', () => {
  const db = useFreshDatabase();

  const ids = [
    'cli.unknown-flag',
    'cli.missing-value',
    'cli.conflicting-flags',
    'cli.no-backup-with-backup-dir',
    'cli.no-backup-with-rehearse',
    'cli.verify-json-markdown',
    'cli.lock-timeout-value',
    'cli.extra-argument',
    'cli.restore-no-file',
    'cli.mark-unknown-entry',
  ];
  for (const id of ids) {
    it(id, async () => {
      const c = failureCase(id);
      const before = await dbState(db().url);
      // A usage error ends before anything depends on the process: run in process.
      const r = await runCase(c, { url: db().url, database: db().database }, { inProcess: true });
      expectCase(r, c, r.vars);
      if (c.code === 'usage' && !c.message.startsWith('no drizzle entry'))
        expect(r.stderr).toContain(`usage: npx zx ${c.entry}`);
      await expectUnchanged(db().url, before);
    });
  }

  it('cli.mark-no-terminal', async () => {
    const c = failureCase('cli.mark-no-terminal');
    await asRelease(db(), 'v2.1', { data: false });
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, database: db().database });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });
});
