// Catalogue cases (test/failures/hardening/restore.ts): an in-place restore that something
// on the server would hold up. The swap gives way instead of keeping the live database
// from its applications, and whatever can be known before the copy is made is refused
// before it: exit 3, the live database untouched and accepting connections, no copy left.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { takeBackup, type BackupResult } from '../../lib/backup/run.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import {
  backupTests,
  serverInfo,
  useFreshDatabase,
  withAdminClient,
  withClientAt,
  type TestDatabase,
} from '../support/database.ts';
import { asRelease, releaseDatabase } from '../support/releases.ts';

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

async function companions(db: TestDatabase): Promise<Array<{ datname: string; datallowconn: boolean }>> {
  const { rows } = await withAdminClient((c) =>
    c.query('select datname, datallowconn from pg_database where starts_with(datname, $1) order by 1', [db.name]),
  );
  return rows;
}

async function backupOf(db: TestDatabase): Promise<BackupResult> {
  const dir = tempDir('upkit-case-swap-');
  return takeBackup(loadConfig({ env: { DATABASE_URL: db.url }, cwd: dir }), quiet(), {
    backupDir: dir,
    keep: 5,
    upkitVersion: 'test',
  });
}

/** A session of the server's superuser on the maintenance database, as a DBA's psql. */
async function adminSession(application: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: serverInfo().adminUrl, application_name: application });
  c.on('error', () => {});
  await c.connect();
  return c;
}

describe('failure catalogue: the in-place restore and what holds it up', backupTests(), () => {
  const db = useFreshDatabase();
  const sessions: pg.Client[] = [];
  const mounts: string[] = [];
  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.end().catch(() => {});
    await withAdminClient(async (c) => {
      for (const { gid } of (
        await c.query<{ gid: string }>(`select gid from pg_prepared_xacts where database = $1`, [db().name])
      ).rows) {
        await withAdminClient((x) => x.query(`rollback prepared '${gid}'`), db().name);
      }
    });
    for (const m of mounts.splice(0)) {
      await withAdminClient((c) => c.query(`drop database if exists ${c.escapeIdentifier(db().name)} with (force)`));
      await withAdminClient((c) => c.query(`drop tablespace if exists upkit_small_${process.pid}`));
      // The server may still hold a file of the dropped tablespace open: detach the mount then.
      try {
        execFileSync('umount', [m], { stdio: 'ignore' });
      } catch {
        execFileSync('umount', ['-l', m]);
      }
    }
  });

  /** Runs the case against a v2.3 install with data and checks it left everything as it was. */
  async function refused(
    id: string,
    file: string,
    vars: Record<string, string | number>,
    extra?: (stderr: string) => Record<string, string | number>,
  ): Promise<void> {
    const c = failureCase(id);
    const before = await dbState(db().url);
    // Watched from the server while the restore runs: the live database never refuses connections.
    let running = true;
    const refusedSeen = withAdminClient(async (a) => {
      let seen = 0;
      while (running) {
        const { rows } = await a.query<{ ok: boolean }>(
          'select datallowconn as ok from pg_database where datname = $1',
          [db().name],
        );
        if (rows[0]?.ok === false) seen++;
        await new Promise((res) => setTimeout(res, 2));
      }
      return seen;
    });
    const r = await runCase(
      c,
      { file, url: db().url, database: db().name, host: db().host, port: db().port, user: db().user, ...vars },
      { timeoutMs: 90_000 },
    ).finally(() => (running = false));
    expect(await refusedSeen).toBe(0);
    expectCase(r, c, { ...r.vars, ...extra?.(r.stderr) });
    await expectUnchanged(db().url, before);
    expect(await companions(db())).toEqual([{ datname: db().name, datallowconn: true }]);
  }

  const restoredIn = (stderr: string) => ({ restored: /✖ swap (\S+) →/.exec(stderr)?.[1] ?? '(no swap line)' });

  it('restore.swap-blocked', { timeout: 150_000 }, async () => {
    await asRelease(db(), 'v2.3');
    const backup = await backupOf(db());
    const dba = await adminSession('dba psql');
    sessions.push(dba);
    const pid = (await dba.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await dba.query('begin');
    await dba.query(`COMMENT ON DATABASE ${db().name} IS 'maintenance'`);
    // Before, the restore waited for as long as the transaction lasted: it ends after 40 s here.
    const release = setTimeout(() => void dba.query('rollback').catch(() => {}), 40_000);
    try {
      await refused('restore.swap-blocked', backup.path, { pid }, restoredIn);
    } finally {
      clearTimeout(release);
    }
  });

  it('restore.swap-row-locked', { timeout: 150_000 }, async () => {
    await asRelease(db(), 'v2.3');
    const backup = await backupOf(db());
    const admin = await adminSession('other admin');
    sessions.push(admin);
    const pid = (await admin.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await admin.query('begin');
    await admin.query(`ALTER DATABASE ${db().name} CONNECTION LIMIT 50`);
    const release = setTimeout(() => void admin.query('rollback').catch(() => {}), 40_000);
    try {
      await refused('restore.swap-row-locked', backup.path, { pid }, restoredIn);
    } finally {
      clearTimeout(release);
    }
  });

  it('restore.prepared-transaction', async () => {
    await asRelease(db(), 'v2.3');
    const backup = await backupOf(db());
    const gid = `upkit_test_${process.pid}`;
    await withClientAt(db().url, async (c) => {
      await c.query('begin');
      await c.query('select 1');
      await c.query(`prepare transaction '${gid}'`);
    });
    await refused('restore.prepared-transaction', backup.path, { gid });
  });

  it('restore.other-database', async () => {
    await asRelease(db(), 'v2.2');
    const staging = await releaseDatabase('v2.3');
    try {
      const backup = await backupOf(staging);
      await refused('restore.other-database', backup.path, { source: staging.name });
    } finally {
      await staging.drop();
    }
  });

  it('restore.disk-space', async () => {
    await asRelease(db(), 'v2.3');
    const backup = await backupOf(db());
    // A tablespace on a small tmpfs, owned by the server's OS user, holding the live database.
    const dir = tempDir('upkit-case-tblspc-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir]);
    mounts.push(dir);
    const owner = statSync(
      (await withAdminClient((c) => c.query<{ d: string }>(`select current_setting('data_directory') as d`))).rows[0]!
        .d,
    );
    const location = path.join(dir, 'ts');
    mkdirSync(location);
    chownSync(location, owner.uid, owner.gid);
    const tablespace = `upkit_small_${process.pid}`;
    await withAdminClient(async (c) => {
      await c.query(`create tablespace ${tablespace} location '${location}'`);
      await c.query(`alter database ${c.escapeIdentifier(db().name)} set tablespace ${tablespace}`);
    });
    // Leave less room than the database takes.
    const size = Number(
      (await withAdminClient((c) => c.query<{ n: string }>('select pg_database_size($1)::text as n', [db().name])))
        .rows[0]!.n,
    );
    const { bavail, bsize } = (await import('node:fs')).statfsSync(dir);
    writeFileSync(path.join(dir, 'filler'), Buffer.alloc(Math.max(0, bavail * bsize - Math.floor(size / 2))));
    await refused('restore.disk-space', backup.path, { tablespace, dir: location });
  });
});
