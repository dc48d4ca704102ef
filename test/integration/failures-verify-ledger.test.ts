// Catalogue case: another application's rows in drizzle's ledger are told apart from a
// later migration of this app (created after the journal's last entry).
import { describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { dbState, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { expectVerifyCase } from '../failures/verifyCase.ts';
import { runUpkit } from '../support/cli.ts';
import { useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe('failure catalogue: a shared drizzle ledger', () => {
  const db = useFreshDatabase();

  it('verify.ledger-shared', async () => {
    await asRelease(db(), 'v2.3');
    const id = await withClientAt(db().url, async (c) => {
      return (
        await c.query(
          `insert into drizzle.__drizzle_migrations (hash, created_at) ` +
            `values ('0123456789abcdef' || repeat('0', 48), 1600000000000) returning id`,
        )
      ).rows[0].id;
    });
    const c = failureCase('verify.ledger-shared');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, id });
    expectVerifyCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    // upgrade and status follow the same rule: a warning, never a refusal, and health is migrated.
    const dry = await runUpkit('upgrade.ts', ['--dry-run', '--json'], { env: { DATABASE_URL: db().url } });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json<Report>().findings.map((f) => `${f.severity} ${f.code}`)).toContain('warning ledger.foreign_entry');
    const status = await runUpkit('scripts/status.ts', [], { env: { DATABASE_URL: db().url } });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('1 of another application (or a removed file)');
  });

  it('a row created after the last entry is still a later migration', async () => {
    await asRelease(db(), 'v2.3');
    await withClientAt(db().url, async (c) => {
      await c.query(
        `insert into drizzle.__drizzle_migrations (hash, created_at) values (repeat('f', 64), 4102444800000)`,
      );
    });
    const r = await runCase(failureCase('verify.ledger-shared'), { url: db().url, id: 0 });
    expect(r.code).toBe(4);
    expect(r.json<Report>().findings.find((f) => f.code === 'ledger.unknown_entry')?.message).toMatch(
      /ahead of this upkit/,
    );
  });
});
