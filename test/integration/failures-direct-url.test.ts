// Catalogue cases (test/failures/hardening/install.ts): DIRECT_URL and DATABASE_URL are
// compared by what they reach, not by their names. Another database or another server is
// refused before anything is read or written (no backup, no run recorded, both servers as
// they were); the same database reached by another spelling, a socket or a pooler's alias
// passes without any flag.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import { fill } from '../failures/match.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, serverInfo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease, buildRelease } from '../support/releases.ts';
import { findSystemInstalls } from '../support/servers/discover.ts';
import { startSystemServer } from '../support/servers/system.ts';
import type { ServerHandle } from '../support/servers/common.ts';

function urlWith(url: string, change: (u: URL) => void): string {
  const u = new URL(url);
  change(u);
  return u.toString();
}

/** A port where nothing listens (taken, then given back). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/**
 * What a pooler's alias does: clients name `alias`, the server sees `database`. Rewrites the
 * database of the startup message and then passes bytes through.
 */
async function aliasProxy(
  upstreamPort: number,
  alias: string,
  database: string,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 4) return;
      const len = buffered.readInt32BE(0);
      if (buffered.length < len) return;
      client.off('data', onData);
      const params = buffered
        .subarray(8, len - 1)
        .toString('utf8')
        .split('\0');
      for (let i = 0; i + 1 < params.length; i += 2)
        if (params[i] === 'database' && params[i + 1] === alias) params[i + 1] = database;
      const body = Buffer.from(`${params.join('\0')}\0`, 'utf8');
      const head = Buffer.alloc(8);
      head.writeInt32BE(8 + body.length, 0);
      buffered.copy(head, 4, 4, 8);
      const upstream = net.connect(upstreamPort, '127.0.0.1', () => {
        upstream.write(Buffer.concat([head, body, buffered.subarray(len)]));
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const MISMATCH = /^config\.direct-url-/;

describe('failure catalogue: DIRECT_URL reaches what DATABASE_URL reaches', backupTests(), () => {
  const db = useFreshDatabase();
  let other: ServerHandle;

  beforeAll(async () => {
    const binDir = serverInfo().binDir ?? (await findSystemInstalls())[0]?.binDir;
    expect(binDir, 'PostgreSQL server programs to start a second cluster').toBeTruthy();
    other = await startSystemServer({ binDir: binDir! });
  }, 120_000);
  afterAll(async () => {
    await other?.stop();
  });

  const vars = () => ({ url: db().url, host: db().host, port: db().port, database: db().database });

  async function refusedBeforeAnything(
    id: string,
    extra: Record<string, string | number>,
    urls: string[],
  ): Promise<void> {
    const c = failureCase(id);
    const states = await Promise.all(urls.map((u) => dbState(u)));
    // Refused before the command reads or writes anything: run in process.
    const r = await runCase(c, { ...vars(), ...extra }, { inProcess: true });
    expectCase(r, c, r.vars);
    expect(existsSync(path.join(r.cwd, 'backups')), `${id}: a backup was taken`).toBe(false);
    for (const [i, u] of urls.entries()) {
      expect(await runsOf(u), `${id}: a run was recorded`).toEqual([]);
      await expectUnchanged(u, states[i]!);
    }
    expect(r.stderr).not.toContain(new URL(db().url).password);
  }

  it('config.direct-url-other-database', async () => {
    await asRelease(db(), 'v2.2');
    await refusedBeforeAnything(
      'config.direct-url-other-database',
      { otherUrl: urlWith(db().url, (u) => (u.pathname = '/postgres')) },
      [db().url],
    );
  });

  it('config.direct-url-other-server', async () => {
    const name = db().database;
    await withClientAt(other.adminUrl, (c) => c.query(`create database ${c.escapeIdentifier(name)}`));
    const otherUrl = urlWith(other.adminUrl, (u) => (u.pathname = `/${name}`));
    try {
      for (const u of [db().url, otherUrl]) await withClientAt(u, (c) => buildRelease(c, 'v2.2'));
      await refusedBeforeAnything(
        'config.direct-url-other-server',
        { otherUrl, otherHost: other.host, otherPort: other.port },
        [db().url, otherUrl],
      );
    } finally {
      await withClientAt(other.adminUrl, (c) =>
        c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`),
      );
    }
  });

  it('config.direct-url-different-on-purpose', async () => {
    await asRelease(db(), 'v2.2');
    const c = failureCase('config.direct-url-different-on-purpose');
    const r = await runCase(c, { ...vars(), otherUrl: urlWith(db().url, (u) => (u.pathname = '/postgres')) });
    expectCase(r, c, r.vars);
  });

  it('config.direct-url-unreachable', async () => {
    const p = await closedPort();
    const c = failureCase('config.direct-url-unreachable');
    const state = await dbState(db().url);
    const r = await runCase(
      c,
      { ...vars(), closedPort: p, closedUrl: urlWith(db().url, (u) => (u.port = String(p))) },
      { inProcess: true },
    );
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, state);
  });

  it('config.direct-url-unverifiable', async () => {
    await asRelease(db(), 'v2.2');
    const p = await closedPort();
    const closedUrl = urlWith(db().url, (u) => {
      u.port = String(p);
      u.pathname = '/elsewhere';
    });
    await refusedBeforeAnything('config.direct-url-unverifiable', { closedPort: p, closedUrl }, [db().url]);
  });

  it('install.direct-url-other-database', async () => {
    const c = failureCase('install.direct-url-other-database');
    const cwd = tempDir();
    const otherUrl = urlWith(db().url, (u) => (u.pathname = '/postgres'));
    const v = { cwd, ...vars(), otherUrl };
    const envFile = path.join(cwd, '.env');
    writeFileSync(envFile, fill(c.dotenv!, v), { mode: 0o644 });
    const before = readFileSync(envFile);
    const states = await Promise.all([dbState(db().url), dbState(otherUrl)]);
    const r = await runCase({ ...c, dotenv: undefined }, v, { cwd });
    expectCase(r, c, r.vars);
    expect(readFileSync(envFile).equals(before), '.env changed').toBe(true);
    await expectUnchanged(db().url, states[0]!);
    await expectUnchanged(otherUrl, states[1]!);
    expect(await runsOf(db().url)).toEqual([]);
  });

  it('install that created the database DIRECT_URL names before refusing says so and how to drop it', async () => {
    const created = `${db().database}_direct`;
    const directUrl = urlWith(db().url, (u) => (u.pathname = `/${created}`));
    try {
      const r = await runUpkit('install.ts', ['--yes', '--no-containers', '--json'], {
        env: { DATABASE_URL: db().url, DIRECT_URL: directUrl },
        cwd: tempDir(),
      });
      expect(r.code, r.stderr).toBe(2);
      const report = r.json<Report>();
      expect(report.changes.made).toBe(true);
      expect(r.stderr).toContain(`install had just created the empty database ${created} (`);
      expect(report.findings.find((f) => f.code === 'config.direct-url-mismatch')?.hint).toContain(
        `drop the empty database if it is not wanted: DROP DATABASE "${created}";`,
      );
    } finally {
      await withClientAt(serverInfo().adminUrl, (c) => c.query(`drop database if exists "${created}"`));
    }
  });

  /** A dry run with these settings: exit 0 and no finding about DIRECT_URL. */
  async function passes(env: Record<string, string>): Promise<void> {
    const r = await runUpkit('upgrade.ts', ['--dry-run', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<Report>().findings.filter((f) => MISMATCH.test(f.code))).toEqual([]);
  }

  it('passes the same database reached through a socket directory and through 127.0.0.1', async () => {
    await asRelease(db(), 'v2.2');
    const dir = await withClientAt(db().url, async (c) =>
      (await c.query<{ d: string }>("select current_setting('unix_socket_directories') as d")).rows[0]!.d.split(
        ',',
      )[0]!.trim(),
    );
    // A server in a container has no socket here: the alias test below covers the rest.
    if (serverInfo().source === 'system') expect(dir).toMatch(/^\//);
    if (!dir.startsWith('/')) return;
    const u = new URL(db().url);
    const socketUrl =
      `postgres://${u.username}:${u.password}@/${db().database}` + `?host=${encodeURIComponent(dir)}&port=${db().port}`;
    await passes({ DATABASE_URL: db().url, DIRECT_URL: socketUrl });
    await passes({ DATABASE_URL: socketUrl, DIRECT_URL: db().url });
  });

  it("passes a pooler's alias that names the same database otherwise, without any flag", async () => {
    await asRelease(db(), 'v2.2');
    const alias = `pulse_alias_${randomBytes(3).toString('hex')}`;
    const proxy = await aliasProxy(db().port, alias, db().database);
    try {
      const pooled = urlWith(db().url, (u) => {
        u.hostname = '127.0.0.1';
        u.port = String(proxy.port);
        u.pathname = `/${alias}`;
      });
      await passes({ DATABASE_URL: pooled, DIRECT_URL: db().url });
    } finally {
      await proxy.close();
    }
  });

  it('tells servers apart for a role that may not call pg_control_system()', async () => {
    const name = `pulse_${randomBytes(3).toString('hex')}`;
    const role = `app_${randomBytes(3).toString('hex')}`;
    const password = 'app-pw-1234';
    await withClientAt(other.adminUrl, async (c) => {
      await c.query(`create role ${role} login password '${password}'`);
      await c.query(`create database ${name} owner ${role}`);
    });
    const asRole = urlWith(other.adminUrl, (u) => {
      u.username = role;
      u.password = password;
      u.pathname = `/${name}`;
    });
    const asAdmin = urlWith(other.adminUrl, (u) => (u.pathname = `/${name}`));
    try {
      // PostgreSQL grants it to every role: the check reads it where it can.
      await withClientAt(asRole, (c) => c.query('select system_identifier from pg_control_system()'));
      // Function privileges live in each database's catalog.
      await withClientAt(asAdmin, (c) => c.query('revoke execute on function pg_control_system() from public'));
      await expect(
        withClientAt(asRole, (c) => c.query('select system_identifier from pg_control_system()')),
      ).rejects.toThrow(/permission denied/);
      // The same database, one side without the system identifier: passes.
      await passes({ DATABASE_URL: asRole, DIRECT_URL: asAdmin });
      // The same name on another server, one side without it: still refused.
      await withClientAt(serverInfo().adminUrl, (c) => c.query(`create database ${name}`));
      try {
        const here = urlWith(serverInfo().adminUrl, (u) => (u.pathname = `/${name}`));
        const r = await runUpkit('upgrade.ts', ['--dry-run', '--json'], {
          env: { DATABASE_URL: here, DIRECT_URL: asRole },
        });
        expect(r.code, r.stderr).toBe(2);
        expect(r.json<Report>().findings.map((f) => f.code)).toContain('config.direct-url-mismatch');
      } finally {
        await withClientAt(serverInfo().adminUrl, (c) => c.query(`drop database if exists ${name} with (force)`));
      }
    } finally {
      await withClientAt(other.adminUrl, async (c) => {
        await c.query(`drop database if exists ${name} with (force)`);
        await c.query(`drop role if exists ${role}`);
      });
    }
  });
});
