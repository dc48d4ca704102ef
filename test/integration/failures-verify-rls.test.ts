// Catalogue cases: row level security that hides rows from the role verify reads as. One
// finding says what could not be checked; nothing is reported missing that is there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { dbState, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { expectVerifyCase } from '../failures/verifyCase.ts';
import { useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe('failure catalogue: row level security and verify', () => {
  const db = useFreshDatabase();
  const ro = `upkit_verify_ro_${process.pid}`;
  const password = 'verify-ro-pw-123';

  beforeAll(async () => {
    await withAdminClient((a) => a.query(`create role ${ro} login password '${password}'`));
  });
  afterAll(async () => {
    await withAdminClient(async (a) => {
      await a.query(`drop owned by ${ro}`).catch(() => {});
      await a.query(`drop role if exists ${ro}`);
    });
  });

  const roUrl = () => `postgresql://${ro}:${password}@${db().host}:${db().port}/${db().database}`;

  async function prepare(sql: string): Promise<void> {
    await asRelease(db(), 'v2.3');
    await withClientAt(db().url, async (c) => {
      await c.query(`grant connect on database ${c.escapeIdentifier(db().database)} to ${ro}`);
      for (const s of ['public', 'drizzle'])
        await c.query(`grant usage on schema ${s} to ${ro}; grant select on all tables in schema ${s} to ${ro}`);
      await c.query(sql);
    });
  }

  const SEED_RLS = ['organizations', 'permissions', 'roles', 'role_permissions']
    .map(
      (t) => `alter table ${t} enable row level security; create policy app_only on ${t} to current_user using (true);`,
    )
    .join(' ');

  it('verify.rls-seed', async () => {
    await prepare(SEED_RLS);
    const c = failureCase('verify.rls-seed');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: roUrl(), user: ro });
    expectVerifyCase(r, c, r.vars);
    const report = r.json<Report>();
    expect(report.findings.filter((f) => f.code.startsWith('seed.') && f.severity === 'error')).toEqual([]);
    expect(report.findings.filter((f) => f.code === 'verify.row_security')).toHaveLength(1);
    await expectUnchanged(db().url, before);
  });

  it('a policy that lets the role read every row: seed data is checked as usual', async () => {
    await prepare(
      `${SEED_RLS} ` +
        `${['organizations', 'permissions', 'roles', 'role_permissions']
          .map((t) => `create policy verify_reads on ${t} for select to ${ro} using (true);`)
          .join(' ')}`,
    );
    const r = await runCase({ ...failureCase('verify.rls-seed') }, { url: roUrl(), user: ro });
    expect(r.code, r.stderr).toBe(0);
    const report = r.json<Report>();
    expect(report.findings.map((f) => f.code)).not.toContain('verify.row_security');
    expect(report.findings.map((f) => f.code)).toContain('seed.counts');
  });

  it('verify.rls-ledger', async () => {
    await prepare('alter table drizzle.__drizzle_migrations enable row level security');
    const c = failureCase('verify.rls-ledger');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: roUrl(), user: ro });
    expectVerifyCase(r, c, r.vars);
    const report = r.json<Report>();
    expect(report.findings.map((f) => f.code)).not.toContain('ledger.pending');
    await expectUnchanged(db().url, before);
  });
});
