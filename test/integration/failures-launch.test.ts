// Catalogue cases (test/failures/hardening/launch.ts): the launcher, run from a directory of
// its own; each refused with exit 2 before the database is touched.
import { execFileSync } from 'node:child_process';
import { realpathSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import { shellQuote } from '../../lib/quote.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { ROOT } from '../support/cli.ts';
import { useFreshDatabase } from '../support/database.ts';

const UPKIT = shellQuote(realpathSync(path.join(ROOT, 'bin/upkit')));

describe('failure catalogue: the launcher', () => {
  const db = useFreshDatabase();

  for (const id of ['launch.dotenv-missing', 'launch.env-file-missing', 'launch.unknown-command']) {
    it(id, async () => {
      const c = failureCase(id);
      const before = await dbState(db().url);
      const r = await runCase(c, { url: db().url, upkit: UPKIT });
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
    });
  }

  it('launch.no-node', async () => {
    const c = failureCase('launch.no-node');
    // A PATH with the two programs the launcher itself uses, and no node.
    const bin = tempDir('upkit-nonode-');
    for (const tool of ['dirname', 'readlink'])
      symlinkSync(
        execFileSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(),
        path.join(bin, tool),
      );
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, bin });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });
});
