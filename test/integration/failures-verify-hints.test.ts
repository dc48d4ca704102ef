// Catalogue cases: schema hints that repair instead of damaging. A renamed column gets
// RENAME COLUMN (not ADD COLUMN), a table moved to another schema gets SET SCHEMA (not
// "restore it from a backup"); each hint, pasted, makes verify pass with the rows unchanged.
import { describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { dbState, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { expectVerifyCase } from '../failures/verifyCase.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe('failure catalogue: verify hints that repair', () => {
  const db = useFreshDatabase();

  async function pasteAndVerify(id: string, rowsOf: string): Promise<void> {
    const c = failureCase(id);
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, columns: await columnsOf(rowsOf) });
    expectVerifyCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    const report = r.json<Report>();
    const f = report.findings.find((x) => x.code === c.code)!;
    const codes = report.findings
      .filter((x) => x.severity !== 'info' && x.code.startsWith('schema.'))
      .map((x) => x.code);
    expect(codes, 'one finding, not also a missing and an extra object').toEqual([c.code]);
    const count = async () =>
      withClientAt(db().url, async (a) => Number((await a.query(`select count(*) from ${rowsOf}`)).rows[0].count));
    const rows = await count();
    await withClientAt(db().url, (a) => a.query(/psql: (.*)$/.exec(f.hint!)![1]!));
    const again = await runCase(c, { url: db().url });
    expect(again.code, again.stderr).toBe(0);
    expect(
      await withClientAt(db().url, async (a) =>
        Number((await a.query(`select count(*) from ${rowsOf.replace(/^app\./, '')}`)).rows[0].count),
      ),
    ).toBe(rows);
  }

  async function columnsOf(table: string): Promise<number> {
    return withClientAt(db().url, async (a) =>
      Number(
        (
          await a.query(
            `select count(*) from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped`,
            [table],
          )
        ).rows[0].count,
      ),
    );
  }

  it('verify.column-renamed', async () => {
    await asRelease(db(), 'v2.3');
    await withClientAt(db().url, async (c) => {
      await c.query('alter table users rename column email to mail');
    });
    await pasteAndVerify('verify.column-renamed', 'users');
  });

  it('verify.table-moved', async () => {
    await asRelease(db(), 'v2.3');
    await withClientAt(db().url, async (c) => {
      await c.query('create schema app; alter table configurations set schema app');
    });
    await pasteAndVerify('verify.table-moved', 'app.configurations');
  });
});
