// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): backup files. Retention
// deletes only what a manifest proves is this server's and this database's; a partial file
// another machine or container is writing is left alone, a stale one removed; a folder upkit
// was given keeps its mode; the table of contents is read right whatever the names hold;
// install makes a readable .env private before it adds secrets to it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { hostLabel } from '../../lib/backup/partial.ts';
import { shellQuote } from '../../lib/quote.ts';
import type { Report } from '../../lib/report.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { ROOT, runUpkit } from '../support/cli.ts';
import { backupTests, freshDatabase, serverInfo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease, buildRelease } from '../support/releases.ts';
import { startSystemServer } from '../support/servers/system.ts';
import { findSystemInstalls } from '../support/servers/discover.ts';
import { until } from '../support/wait.ts';

const BACKUP = 'scripts/backup.ts';
const isRoot = process.getuid?.() === 0;

function urlOn(adminUrl: string, database: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Every file in dir, with its mode bits. */
function modes(dir: string): Record<string, number> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, statSync(path.join(dir, f)).mode & 0o7777]));
}

async function backupOk(url: string, dir: string, keep = 5): Promise<string> {
  const r = await runUpkit(BACKUP, ['--json'], {
    env: { DATABASE_URL: url, BACKUP_DIR: dir, BACKUP_KEEP: String(keep) },
  });
  expect(r.code, r.stderr).toBe(0);
  return r.json<Report>().backup!.path;
}

describe('failure catalogue: backup files', backupTests(), () => {
  const db = useFreshDatabase();
  const v10 = () => asRelease(db(), 'v1.0');

  it('backups.other-server', { timeout: 120_000 }, async () => {
    const binDir = serverInfo().binDir ?? (await findSystemInstalls())[0]?.binDir;
    expect(binDir, 'PostgreSQL server programs to start a second cluster').toBeTruthy();
    const other = await startSystemServer({ binDir: binDir! });
    const name = `pulse_${randomBytes(3).toString('hex')}`;
    const here = urlOn(serverInfo().adminUrl, name);
    const there = urlOn(other.adminUrl, name);
    try {
      for (const admin of [serverInfo().adminUrl, other.adminUrl]) {
        await withClientAt(admin, (c) => c.query(`create database ${name}`));
      }
      for (const url of [here, there]) await withClientAt(url, (c) => buildRelease(c, 'v1.0'));
      const otherId = await withClientAt(
        there,
        async (c) =>
          (await c.query('select system_identifier::text as id from pg_control_system()')).rows[0].id as string,
      );
      const dir = tempDir('upkit-case-servers-');
      const theirs = await backupOk(there, dir, 1);
      const c = failureCase('backups.other-server');
      const before = await dbState(here);
      const r = await runCase(c, {
        url: here,
        dir,
        database: name,
        otherHost: new URL(other.adminUrl).hostname,
        otherPort: other.port,
        otherId,
      });
      expectCase(r, c, r.vars);
      await expectUnchanged(here, before);
      const ours = r.json<Report>().backup!.path;
      expect(existsSync(theirs) && existsSync(`${theirs}.json`), "the other server's only backup").toBe(true);
      // Each server keeps its own newest: a second backup here replaces only ours.
      const ours2 = await backupOk(here, dir, 1);
      const theirs2 = await backupOk(there, dir, 1);
      expect(readdirSync(dir).sort()).toEqual(
        [ours2, `${ours2}.json`, theirs2, `${theirs2}.json`].map((f) => path.basename(f)).sort(),
      );
      expect(existsSync(ours)).toBe(false);
    } finally {
      await withClientAt(serverInfo().adminUrl, (c) => c.query(`drop database if exists ${name} with (force)`));
      await other.stop();
    }
  });

  it('backups.unproven', async () => {
    await v10();
    const dir = tempDir('upkit-case-unproven-');
    const older = await backupOk(db().url, dir, 1);
    const manifest = JSON.parse(readFileSync(`${older}.json`, 'utf8')) as Record<string, unknown>;
    // As an older upkit wrote it: without the server's identity.
    delete manifest.systemIdentifier;
    writeFileSync(`${older}.json`, JSON.stringify(manifest, null, 2));
    const c = failureCase('backups.unproven');
    const before = await dbState(db().url);
    const r = await runCase(c, {
      url: db().url,
      dir,
      database: db().database,
      files: [older, `${older}.json`].map(shellQuote).join(' '),
    });
    expect(existsSync(older) && existsSync(`${older}.json`), 'the older backup and its manifest').toBe(true);
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(readdirSync(dir)).toHaveLength(4);
  });

  it('backups.server-unknown', async () => {
    const user = `Backup-Ops-${randomBytes(3).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    const database = `${db().database}_ops`;
    const admin = new URL(serverInfo().adminUrl);
    const env = {
      DB_HOST: admin.hostname,
      DB_PORT: admin.port || '5432',
      DB_USER: user,
      DB_PASSWORD: password,
      DB_NAME: database,
    };
    const asRole = `postgres://${encodeURIComponent(user)}:${password}@${admin.host}/${database}`;
    await withClientAt(serverInfo().adminUrl, async (c) => {
      await c.query(`create role "${user}" login password '${password}'`);
      await c.query(`create database ${database} owner "${user}"`);
    });
    try {
      await withClientAt(urlOn(serverInfo().adminUrl, database), (c) =>
        c.query('revoke execute on function pg_control_system() from public'),
      );
      await withClientAt(asRole, (c) => buildRelease(c, 'v1.0'));
      const dir = tempDir('upkit-case-noid-');
      const first = await runUpkit(BACKUP, ['--json'], { env: { ...env, BACKUP_DIR: dir, BACKUP_KEEP: '1' } });
      expect(first.code, first.stderr).toBe(0);
      const older = first.json<Report>().backup!.path;
      const c = failureCase('backups.server-unknown');
      const before = await dbState(asRole);
      const r = await runCase(c, {
        host: env.DB_HOST,
        port: env.DB_PORT,
        user,
        password,
        database,
        dir,
        quotedUser: `"${user}"`,
        files: [older, `${older}.json`].map(shellQuote).join(' '),
      });
      expect(existsSync(older), 'the older backup').toBe(true);
      expectCase(r, c, r.vars);
      await expectUnchanged(asRole, before);
    } finally {
      await withClientAt(serverInfo().adminUrl, async (c) => {
        await c.query(`drop database if exists ${database} with (force)`);
        await c.query(`drop role if exists "${user}"`);
      });
    }
  });

  it.skipIf(!isRoot)(
    'backups.partial-other-namespace (needs root for unshare --pid)',
    { timeout: 90_000 },
    async () => {
      await v10();
      const second = await freshDatabase();
      const dir = tempDir('upkit-case-pidns-');
      const locker = new pg.Client({ connectionString: db().url });
      await locker.connect();
      try {
        await asRelease(second, 'v1.0');
        await locker.query('begin');
        await locker.query('lock table users in access exclusive mode');
        // The first backup runs in a PID namespace of its own as pid 99991 (no such pid here:
        // pid_max is lower), as in a container or on another machine sharing BACKUP_DIR.
        const logDir = tempDir('upkit-logs-');
        const first = spawn(
          'unshare',
          [
            '--pid',
            '--fork',
            '--mount-proc',
            'sh',
            '-c',
            'echo 99990 > /proc/sys/kernel/ns_last_pid && "$@"; exit $?',
            'sh',
            process.execPath,
            '--import',
            import.meta.resolve('tsx'),
            path.join(ROOT, 'node_modules/zx/build/cli.js'),
            path.join(ROOT, BACKUP),
            '--json',
          ],
          {
            cwd: tempDir(),
            env: {
              PATH: process.env.PATH,
              HOME: process.env.HOME,
              NO_COLOR: '1',
              UPKIT_LOG_DIR: logDir,
              DATABASE_URL: db().url,
              BACKUP_DIR: dir,
            },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let out = '';
        let err = '';
        first.stdout.on('data', (d: Buffer) => (out += d.toString()));
        first.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const done = new Promise<number | null>((resolve) => first.on('close', resolve));
        await until(() => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.partial')), {
          timeoutMs: 60_000,
        });
        const partial = readdirSync(dir).find((f) => f.endsWith('.partial'))!;
        expect(partial).toMatch(/\.99991(\.[0-9a-f]{8})?\.partial$/);
        const c = failureCase('backups.partial-other-namespace');
        const before = await dbState(second.url);
        const r = await runCase(c, { url: second.url, dir, partial, host: hostLabel(), pid: 99991 });
        expect(readdirSync(dir), "the first backup's partial file").toContain(partial);
        expectCase(r, c, r.vars);
        await expectUnchanged(second.url, before);
        await locker.query('rollback');
        expect(await done, err).toBe(0);
        const written = (JSON.parse(out) as Report).backup!.path;
        expect(existsSync(written) && existsSync(`${written}.json`)).toBe(true);
        expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
      } finally {
        await locker.end().catch(() => {});
        await second.drop();
      }
    },
  );

  it('backups.partial-silent', async () => {
    await v10();
    const dir = tempDir('upkit-case-silent-');
    const partial = `${db().database}-v1.0-20261124T000000Z.dump.1.partial`;
    writeFileSync(path.join(dir, partial), 'PGDMP');
    const twoHoursAgo = new Date(Date.now() - 120 * 60_000);
    utimesSync(path.join(dir, partial), twoHoursAgo, twoHoursAgo);
    const c = failureCase('backups.partial-silent');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir, partial, minutes: 120 });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(readdirSync(dir)).not.toContain(partial);
  });

  it('backups.dir-shared', async () => {
    await v10();
    const dir = tempDir('upkit-case-shm-');
    chmodSync(dir, 0o1777);
    const c = failureCase('backups.dir-shared');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(statSync(dir).mode & 0o7777).toBe(0o1777);
    expect(Object.values(modes(dir))).toEqual([0o600, 0o600]);
  });

  it('backups.dir-writable', async () => {
    await v10();
    const dir = path.join(tempDir('upkit-case-0777-'), 'backups of pulse');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const c = failureCase('backups.dir-writable');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir, quotedDir: shellQuote(dir) });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(statSync(dir).mode & 0o7777).toBe(0o777);
    expect(Object.values(modes(dir))).toEqual([0o600, 0o600]);
  });

  it('backups.toc-missing-odd-name', async () => {
    const role = `pulse admin ${randomBytes(3).toString('hex')}`;
    await withClientAt(db().url, async (c) => {
      await c.query(`create role "${role}"`);
      await c.query(`create schema "odd schema" authorization "${role}"`);
      await c.query(`create table "odd schema"."the ""t"" table" (id int)`);
      await c.query(`create table public."a b; c" (id int)`);
      await c.query(`insert into "odd schema"."the ""t"" table" values (1), (2)`);
      await c.query(`insert into public."a b; c" values (3)`);
      await c.query(`alter table "odd schema"."the ""t"" table" owner to "${role}"`);
      await c.query(`alter table public."a b; c" owner to "${role}"`);
    });
    const coverage = serverInfo().backups;
    if (!coverage.testable) throw new Error(coverage.reason);
    // A pg_dump that leaves one table's rows out: the check must name exactly that one.
    const bindir = tempDir('upkit-case-bindir-');
    writeFileSync(
      path.join(bindir, 'pg_dump'),
      `#!/bin/sh\nexec ${shellQuote(coverage.pgDump.path)}` +
        ` "$@" --exclude-table-data='"odd schema"."the ""t"" table"'\n`,
      { mode: 0o755 },
    );
    symlinkSync(path.join(path.dirname(coverage.pgDump.path), 'pg_restore'), path.join(bindir, 'pg_restore'));
    const dir = tempDir('upkit-case-toc-');
    const c = failureCase('backups.toc-missing-odd-name');
    const before = await dbState(db().url);
    try {
      const r = await runCase(c, { url: db().url, dir, bindir });
      expectCase(r, c, r.vars);
      await expectUnchanged(db().url, before);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await db().drop();
      await withClientAt(serverInfo().adminUrl, (c2) => c2.query(`drop role "${role}"`));
    }
  });

  it('backups.env-readable', { timeout: 90_000 }, async () => {
    const cwd = tempDir();
    const env = path.join(cwd, '.env');
    writeFileSync(env, '');
    chmodSync(env, 0o644);
    const c = failureCase('backups.env-readable');
    const r = await runCase(c, { url: db().url, env }, { cwd, timeoutMs: 80_000 });
    expectCase(r, c, r.vars);
    expect(statSync(env).mode & 0o777).toBe(0o600);
    expect(readFileSync(env, 'utf8')).toMatch(/^JWT_SECRET=/m);
  });
});
