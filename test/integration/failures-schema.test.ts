// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): the schema upkit works in.
// A URL or key naming another schema is refused before any connection (exit 2); a Pulse
// install that is not in public, or that is split across schemas, is found by the plan and
// refused (exit 3) before any change: the install elsewhere is neither touched nor duplicated.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import {
  backupArgs,
  connectTo,
  useFreshDatabase,
  withAdminClient,
  withClientAt,
  type TestDatabase,
} from '../support/database.ts';
import { asRelease, buildRelease } from '../support/releases.ts';
import { createdRoles, loginRole, schemaState } from './schemaSupport.ts';

const vars = (d: TestDatabase) => ({
  url: d.url,
  host: d.host,
  port: d.port,
  user: d.user,
  password: d.password,
  database: d.database,
});

/** Pulse v1.0, with rows, in schema `app`; public empty. */
async function installInApp(url: string): Promise<void> {
  const c = await connectTo(url);
  try {
    await c.query('create schema app');
    await c.query('set search_path = app');
    await buildRelease(c, 'v1.0');
  } finally {
    await c.end();
  }
}

describe('failure catalogue: schemas and search_path', () => {
  const db = useFreshDatabase();
  // The roles a test made own its database: it goes first, then they do.
  afterEach(async () => {
    await db().drop();
    await createdRoles.dropAll();
  });

  for (const query of [
    'options=-c%20search_path%3Dapp',
    'options=-csearch_path%3Dapp',
    'options=--search_path%3Dapp',
    'options=--search-path%3Dapp',
    'schema=app',
  ]) {
    it(`schema.url-options (${query})`, async () => {
      await installInApp(db().url);
      const app = await schemaState(db().url, 'app');
      const before = await dbState(db().url);
      const c = failureCase('schema.url-options');
      const r = await runCase({ ...c, env: { DATABASE_URL: `{url}?${query}` } }, vars(db()));
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
      expect(await schemaState(db().url, 'app')).toEqual(app);
    });
  }

  for (const id of [
    'schema.db-schema',
    'schema.search-path-list',
    'schema.elsewhere-install',
    'schema.elsewhere-preflight',
  ]) {
    it(id, async () => {
      await installInApp(db().url);
      const app = await schemaState(db().url, 'app');
      const before = await dbState(db().url);
      const c = failureCase(id);
      const r = await runCase(c, vars(db()));
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
      expect(await schemaState(db().url, 'app')).toEqual(app);
    });
  }

  it('schema.elsewhere', async () => {
    await installInApp(db().url);
    const app = await schemaState(db().url, 'app');
    const before = await dbState(db().url);
    const c = failureCase('schema.elsewhere');
    const r = await runCase(c, vars(db()));
    expectCase(r, c, r.vars);
    expect(r.stderr).not.toMatch(/empty.*v2\.3/);
    await expectUnchanged(db().url, before);
    expect(await schemaState(db().url, 'app')).toEqual(app);
    // The hint's statements, pasted, move the install; the upgrade then finds it and carries its rows on.
    const move = /move the install there \((.+)\) and point/.exec(r.stderr)?.[1];
    expect(move).toBeDefined();
    await withClientAt(db().url, (s) => s.query(move!));
    const again = await runCase({ ...c, args: ['--yes', ...backupArgs()] }, vars(db()));
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().release).toEqual({ from: 'v1.0', to: 'v2.3' });
    expect(app.rows.get('users')?.size).toBeGreaterThan(0);
    expect((await schemaState(db().url, 'public')).rows.get('users')?.size).toBe(app.rows.get('users')?.size);
  });

  it('schema.elsewhere-database-default', async () => {
    await installInApp(db().url);
    await withAdminClient((a) => a.query(`alter database ${a.escapeIdentifier(db().database)} set search_path = app`));
    const app = await schemaState(db().url, 'app');
    const before = await dbState(db().url);
    const c = failureCase('schema.elsewhere-database-default');
    const r = await runCase(c, vars(db()));
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await schemaState(db().url, 'app')).toEqual(app);
  });

  it('schema.split', async () => {
    const role = await loginRole(db());
    // The install in public was made before the role's schema existed; then legacy files,
    // run by the role with the default search_path, created their tables in its schema.
    await withClientAt(role.url, async (c) => {
      await buildRelease(c, 'v1.0');
      await c.query(`create schema ${c.escapeIdentifier(role.name)}`);
      await c.query(`set search_path = ${c.escapeIdentifier(role.name)}`);
      await buildRelease(c, 'v1.4', { data: false });
    });
    const stray = await schemaState(db().url, role.name);
    const before = await dbState(db().url);
    const c = failureCase('schema.split');
    const r = await runCase(c, { ...vars(db()), role: role.name, roleUrl: role.url });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await schemaState(db().url, role.name)).toEqual(stray);
    // The hint's statement, pasted, ends the split; the upgrade then brings public to v2.3.
    const drop = /remove them: (DROP TABLE [^;]+;)/.exec(r.stderr)?.[1];
    expect(drop).toBeDefined();
    await withClientAt(role.url, (s) => s.query(drop!));
    const again = await runCase(
      { ...c, args: ['--yes', ...backupArgs()] },
      { ...vars(db()), role: role.name, roleUrl: role.url },
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().release).toEqual({ from: 'v1.0', to: 'v2.3' });
  });

  it('schema.socket-missing', async () => {
    const before = await dbState(db().url);
    const socketDir = mkdtempSync(path.join(tmpdir(), 'upkit-no-socket-'));
    const c = failureCase('schema.socket-missing');
    const r = await runCase(c, { ...vars(db()), socketDir });
    expectCase(r, c, r.vars);
    expect(r.stderr + r.stdout + r.logs()).not.toContain(db().password);
    await expectUnchanged(db().url, before);
  });

  it('config.env-duplicate', async () => {
    await asRelease(db(), 'v2.3', { data: false });
    const before = await dbState(db().url);
    const c = failureCase('config.env-duplicate');
    const r = await runCase(c, vars(db()));
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });

  it('config.env-escape', async () => {
    const role = await loginRole(db(), 'ab\ncd');
    await withClientAt(role.url, (c) => buildRelease(c, 'v2.3', { data: false }));
    const before = await dbState(db().url);
    const c = failureCase('config.env-escape');
    const r = await runCase(c, { ...vars(db()), role: role.name });
    expectCase(r, c, r.vars);
    expect(r.stdout + r.stderr).toContain(db().database);
    await expectUnchanged(db().url, before);
  });

  // The same class, other inputs: which stray tables count, and what the hint says.
  it('schema.split, empty stray tables: the hint drops exactly them', async () => {
    const role = await loginRole(db());
    await withClientAt(role.url, async (c) => {
      await buildRelease(c, 'v1.0');
      const s = c.escapeIdentifier(role.name);
      await c.query(`create schema ${s}; create table ${s}.users (id int); create table ${s}.organizations (id int)`);
    });
    const before = await dbState(db().url);
    const r = await runCase(failureCase('schema.split'), { ...vars(db()), role: role.name, roleUrl: role.url });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(
      `✖ Pulse is split across schemas: ${role.name} holds 2 of its tables (all empty) besides the install in public;`,
    );
    expect(r.stderr).toContain(
      `→ they hold no rows: remove them with DROP TABLE "${role.name}"."organizations", ` +
        `"${role.name}"."users"; then run: npx zx upgrade.ts --dry-run`,
    );
    await expectUnchanged(db().url, before);
  });

  it("schema.split, a schema the role's search_path puts before public", async () => {
    const role = await loginRole(db());
    await withClientAt(role.url, async (c) => {
      await buildRelease(c, 'v1.0');
      await c.query('create schema app; create table app.users (id int)');
    });
    await withAdminClient((a) =>
      a.query(
        `alter role ${a.escapeIdentifier(role.name)} in database ` +
          `${a.escapeIdentifier(db().database)} set search_path = app, public`,
      ),
    );
    const before = await dbState(db().url);
    const r = await runCase(failureCase('schema.split'), { ...vars(db()), role: role.name, roleUrl: role.url });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(
      `✖ Pulse is split across schemas: app holds 1 of its tables (all empty) ` +
        `besides the install in public; schema app is on the search_path ${role.name}` +
        ` is given (app, public) before public, so the app would use those tables`,
    );
    await expectUnchanged(db().url, before);
  });

  it(
    'a copy of Pulse in a schema no session finds first is no split: ' +
      'the upgrade of public goes ahead and leaves the copy alone',
    async () => {
      await asRelease(db(), 'v1.0');
      await withClientAt(db().url, async (c) => {
        await c.query('create schema archive');
        await c.query('set search_path = archive');
        await buildRelease(c, 'v1.0');
      });
      const archive = await schemaState(db().url, 'archive');
      const r = await runCase({ ...failureCase('schema.elsewhere'), args: ['--yes', ...backupArgs()] }, vars(db()));
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().release).toEqual({ from: 'v1.0', to: 'v2.3' });
      expect(await schemaState(db().url, 'archive')).toEqual(archive);
    },
  );

  it(
    "another app's table named like one of Pulse's, in a schema no " +
      'session finds first, does not stop an install into an empty public',
    async () => {
      await withClientAt(db().url, (c) =>
        c.query('create schema crm; create table crm.users (id int primary key); insert into crm.users values (1)'),
      );
      const crm = await schemaState(db().url, 'crm');
      const r = await runCase({ ...failureCase('schema.elsewhere'), args: ['--yes', ...backupArgs()] }, vars(db()));
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().release).toEqual({ from: null, to: 'v2.3' });
      expect(await schemaState(db().url, 'crm')).toEqual(crm);
    },
  );
});
