// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): data an upgrade cannot
// carry forward as it is. The file's own check runs read-only in the plan, so the upgrade
// is refused before anything is written (exit 3): no backup, no ledger row, no run recorded.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe('failure catalogue: data', () => {
  const db = useFreshDatabase();

  it('data.case-duplicate-emails', async () => {
    await asRelease(db(), 'v1.2');
    await withClientAt(db().url, async (c) => {
      const org = (await c.query(`select id from organizations where slug = 'org-2'`)).rows[0].id;
      await c.query(
        `insert into users (organization_id, email, password_hash) ` +
          `values ($1, 'Alice@x.example', 'a'), ($1, 'alice@x.example', 'b')`,
        [org],
      );
    });
    const before = await dbState(db().url);
    const backups = tempDir('upkit-case-bk-');
    const fc = failureCase('data.case-duplicate-emails');
    const r = await runCase(fc, { url: db().url, backups });
    expectCase(r, fc, r.vars);
    await expectUnchanged(db().url, before);
    expect(readdirSync(backups)).toEqual([]);
    expect(await runsOf(db().url)).toEqual([]);
  });
});
