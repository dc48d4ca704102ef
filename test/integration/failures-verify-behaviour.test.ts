// Catalogue cases: changes that alter behaviour without changing a column or a key
// (disabled foreign-key triggers, a column collation) are errors whose hint, pasted, repairs
// them; what is added beside the schema (a trigger, a materialized view) is a warning.
import { describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { dbState, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { expectVerifyCase } from '../failures/verifyCase.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe('failure catalogue: verify sees triggers, collations and materialized views', () => {
  const db = useFreshDatabase();
  const q = async (sql: string) => withClientAt(db().url, async (c) => (await c.query(sql)).rows);

  async function caseThenPaste(id: string, vars: Record<string, string>): Promise<void> {
    const c = failureCase(id);
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, ...vars });
    expectVerifyCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    const f = r.json<Report>().findings.find((x) => x.code === c.code)!;
    await q(/psql: (.*)$/.exec(f.hint!)![1]!);
    const again = await runCase(c, { url: db().url, ...vars });
    expect(again.code, again.stderr).toBe(0);
  }

  it('verify.triggers-disabled', async () => {
    await asRelease(db(), 'v2.3');
    await q('alter table users disable trigger all');
    const names = await q(
      `select distinct con.conname::text as conname from pg_trigger t join pg_constraint ` +
        `con on con.oid = t.tgconstraint where t.tgrelid = 'users'::regclass and t.tgisinternal`,
    );
    await caseThenPaste('verify.triggers-disabled', {
      constraints: names
        .map((r) => r.conname as string)
        .sort()
        .join(', '),
    });
    expect(
      await q(`select count(*)::int as n from pg_trigger where tgrelid = 'users'::regclass and tgenabled = 'D'`),
    ).toEqual([{ n: 0 }]);
  });

  it('verify.collation', async () => {
    await asRelease(db(), 'v2.3');
    const [{ type }] = await q(
      `select format_type(atttypid, atttypmod) as type from pg_attribute ` +
        `where attrelid = 'users'::regclass and attname = 'email'`,
    );
    await q(`alter table users alter column email type ${type} collate "C"`);
    await caseThenPaste('verify.collation', { type });
  });

  it('verify.extra-trigger, and a materialized view', async () => {
    await asRelease(db(), 'v2.3');
    await q(`create function audit_orgs() returns trigger language plpgsql as 'begin return new; end';
             create trigger audit_orgs before update on organizations for each row execute function audit_orgs();
             create materialized view org_counts as select count(*) from organizations`);
    const c = failureCase('verify.extra-trigger');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url });
    expectVerifyCase(r, c, r.vars);
    const mv = r.json<Report>().findings.filter((f) => f.code === 'schema.extra_matview');
    expect(mv.map((f) => [f.severity, f.message])).toEqual([
      ['warning', 'materialized view org_counts is not in the snapshot: added by hand?'],
    ]);
    await expectUnchanged(db().url, before);
  });
});
