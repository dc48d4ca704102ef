// Catalogue cases (test/failures/hardening/install.ts): settings PostgreSQL or Node would
// refuse, and a rehearsal the role may not run, are refused before the backup: no backup
// file, no run recorded, the database exactly as it was.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf } from '../failures/check.ts';
import { backupTests, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { buildRelease } from '../support/releases.ts';

describe('failure catalogue: checked before the backup', backupTests(), () => {
  const db = useFreshDatabase();

  async function before(id: string, vars: Record<string, string | number> = {}, url = db().url): Promise<void> {
    const c = failureCase(id);
    const state = await dbState(url);
    const r = await runCase(c, { url, host: db().host, port: db().port, user: db().user, database: db().database, ...vars });
    expectCase(r, c, r.vars);
    expect(existsSync(path.join(r.cwd, 'backups')), `${id}: a backup was taken`).toBe(false);
    expect(await runsOf(url)).toEqual([]);
    await expectUnchanged(url, state);
  }

  for (const id of ['config.lock-timeout-range', 'config.statement-timeout-flag-range', 'config.lock-retries-range']) {
    it(id, async () => {
      await withClientAt(db().url, (c) => buildRelease(c, 'v2.2'));
      await before(id);
    });
  }

  it('config.rehearse-no-createdb', async () => {
    const role = `upkit_norehearse_${process.pid}`;
    const password = 'rehearse-pw-1';
    await withAdminClient(async (a) => {
      await a.query(`drop role if exists ${role}`);
      await a.query(`create role ${role} login password '${password}' nocreatedb nocreaterole nosuperuser`);
      await a.query(`alter database ${a.escapeIdentifier(db().database)} owner to ${role}`);
    });
    const u = new URL(db().url);
    u.username = role;
    u.password = password;
    const roleUrl = u.toString();
    try {
      await withClientAt(db().url, (c) => c.query(`alter schema public owner to ${role}`));
      await withClientAt(roleUrl, (c) => buildRelease(c, 'v2.2'));
      await before('config.rehearse-no-createdb', { roleUrl, role }, roleUrl);
    } finally {
      await withAdminClient((a) => a.query(`alter database ${a.escapeIdentifier(db().database)} owner to current_user`)).catch(() => {});
      await withAdminClient((a) => a.query(`drop owned by ${role} cascade`), db().database).catch(() => {});
      await withAdminClient((a) => a.query(`drop role if exists ${role}`)).catch(() => {});
    }
  });

  it('config.url-and-parts', async () => {
    const c = failureCase('config.url-and-parts');
    const state = await dbState(db().url);
    const r = await runCase(c, { url: db().url, host: db().host, port: db().port, user: db().user, database: db().database });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, state);
  });

  it('config.direct-url-other-database', async () => {
    await withClientAt(db().url, (c) => buildRelease(c, 'v2.2'));
    const u = new URL(db().url);
    u.pathname = '/postgres';
    const otherUrl = u.toString();
    await before('config.direct-url-other-database', { otherUrl });
    // Stated on purpose: accepted.
    const c = failureCase('config.direct-url-other-database');
    const r = await runCase({ ...c, args: ['--dry-run'], dotenv: `${c.dotenv}DIRECT_URL_DIFFERENT_DATABASE=1\n` }, { url: db().url, otherUrl });
    expect(r.stderr).not.toContain('DIRECT_URL: names database');
    expect(r.code, r.stderr).toBe(0);
  });
});
