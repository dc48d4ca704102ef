// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): the database cannot be
// reached, or refuses the connection. Each ends with exit 3, one line naming host and port
// (never the password), and the database, where there is one, exactly as it was.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dbState, expectCase, expectUnchanged, failureCase, runCase } from '../failures/check.ts';
import { useFreshDatabase, withAdminClient } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

const LOCAL = '127.0.0.1';

describe('failure catalogue: connection', () => {
  const db = useFreshDatabase();
  const vars = () => ({ url: db().url, host: db().host, port: db().port, user: db().user, database: db().database });
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  async function listen(server: Server): Promise<number> {
    servers.push(server);
    server.on('connection', (socket: Socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, LOCAL, resolve));
    return (server.address() as { port: number }).port;
  }

  /** A v1.2 install with data, so that "unchanged" has something to compare. */
  async function installed(): Promise<void> {
    await asRelease(db(), 'v1.2');
  }

  for (const id of ['conn.wrong-password', 'conn.wrong-db-password', 'conn.unknown-role']) {
    it(id, async () => {
      await installed();
      const c = failureCase(id);
      const before = await dbState(db().url);
      const r = await runCase(c, vars());
      expectCase(r, c, r.vars);
      expect(r.stderr + r.stdout + r.logs()).not.toContain('not-the-password');
      if (id === 'conn.wrong-password')
        expect(r.stderr).toContain('✖ preflight refused: 1 check failed; nothing was changed');
      await expectUnchanged(db().url, before);
    });
  }

  it('conn.refused', async () => {
    const port = await listen(createServer());
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const c = failureCase('conn.refused');
    const r = await runCase(c, { host: LOCAL, port });
    expectCase(r, c, r.vars);
  });

  it('conn.dns', async () => {
    const c = failureCase('conn.dns');
    const r = await runCase(c);
    expectCase(r, c, r.vars);
  });

  it('conn.silent', async () => {
    const port = await listen(createServer(() => {}));
    const c = failureCase('conn.silent');
    const r = await runCase(c, { host: LOCAL, port });
    expectCase(r, c, r.vars);
    // It gave up on its one attempt when CONNECT_TIMEOUT ran out (the message above), without
    // trying again: the silent server was connected to once.
    expect(sockets).toHaveLength(1);
  });

  it('conn.not-postgres', async () => {
    const port = await listen(createHttpServer((_req, res) => res.end('Pulse')));
    const c = failureCase('conn.not-postgres');
    const r = await runCase(c, { host: LOCAL, port });
    expectCase(r, c, r.vars);
  });

  it('conn.database-missing', async () => {
    const missing = `${db().database}_typo`;
    const url = new URL(db().url);
    url.pathname = `/${missing}`;
    const c = failureCase('conn.database-missing');
    const r = await runCase(c, { ...vars(), url: url.toString(), database: missing });
    expectCase(r, c, r.vars);
    const exists = await withAdminClient((a) => a.query('select 1 from pg_database where datname = $1', [missing]));
    expect(exists.rowCount).toBe(0);
  });

  it('conn.ssl-unsupported', async () => {
    await installed();
    // The case is about a server without SSL: the test server must be one.
    expect((await withAdminClient((a) => a.query(`select current_setting('ssl') as ssl`))).rows[0].ssl).toBe('off');
    const c = failureCase('conn.ssl-unsupported');
    const before = await dbState(db().url);
    const r = await runCase(c, vars());
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
  });

  it('conn.not-accepting', async () => {
    await installed();
    const c = failureCase('conn.not-accepting');
    const before = await dbState(db().url);
    await withAdminClient((a) =>
      a.query(`alter database ${a.escapeIdentifier(db().database)} allow_connections false`),
    );
    try {
      const r = await runCase(c, { ...vars(), user: db().user });
      expectCase(r, c, r.vars);
    } finally {
      await withAdminClient((a) =>
        a.query(`alter database ${a.escapeIdentifier(db().database)} allow_connections true`),
      );
    }
    await expectUnchanged(db().url, before);
  });

  it('conn.role-limit', async () => {
    await installed();
    const role = `upkit_limit_${process.pid}`;
    const password = 'limit-pw-123';
    await withAdminClient((a) => a.query(`create role ${role} login password '${password}' connection limit 0`));
    try {
      const c = failureCase('conn.role-limit');
      const before = await dbState(db().url);
      const r = await runCase(c, { ...vars(), user: role, password });
      expectCase(r, c, r.vars);
      expect(r.stderr + r.stdout + r.logs()).not.toContain(password);
      await expectUnchanged(db().url, before);
    } finally {
      await withAdminClient((a) => a.query(`drop role if exists ${role}`));
    }
  });
});
