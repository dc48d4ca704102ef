// A role that owns the database but may not use the ledgers' schema (made by another role):
// refused before the plan reads them, and the printed GRANTs, pasted, are enough.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf } from '../failures/check.ts';
import { useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe("failure catalogue: the ledgers out of the role's reach", () => {
  const db = useFreshDatabase();
  const migrator = `upkit_ledger_role_${process.pid}`;
  const password = 'ledger-pw-123';

  beforeAll(async () => {
    await withAdminClient((a) => a.query(`create role ${migrator} login password '${password}'`));
  });
  afterAll(async () => {
    await withAdminClient((a) => a.query(`drop role if exists ${migrator}`));
  });

  const asMigrator = () => ({ user: migrator, password, host: db().host, port: db().port, database: db().database });

  async function prepare(): Promise<void> {
    await asRelease(db(), 'v2.2');
    await withClientAt(db().url, async (c) => {
      await c.query(`alter database ${c.escapeIdentifier(db().database)} owner to ${migrator}`);
    });
  }

  it('server.ledger-access', async () => {
    await prepare();
    const c = failureCase('server.ledger-access');
    const before = await dbState(db().url);
    const r = await runCase(c, asMigrator());
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await runsOf(db().url)).toEqual([]);
  });

  it('server.ledger-access-preflight', async () => {
    await prepare();
    const c = failureCase('server.ledger-access-preflight');
    const before = await dbState(db().url);
    const r = await runCase(c, asMigrator());
    expectCase(r, c, r.vars);
    expect(r.stderr).toMatch(
      /schema {2}skipped: the role cannot read upkit's ledgers|schema .*the role cannot read upkit's ledgers/,
    );
    await expectUnchanged(db().url, before);
    // The hint, pasted as the administrator: the privileges check then passes.
    const report = r.json();
    const hint = report.findings.find((f) => f.code === c.code)!.hint!;
    const sql = /administrator: (GRANT .*;) \(or connect/.exec(hint)![1]!;
    await withClientAt(db().url, (a) => a.query(sql));
    const again = await runCase({ ...c, json: false }, asMigrator());
    expect(again.stderr).toMatch(/✔ privileges/);
  });
});
