// Backup files for any name: a database name becomes a safe file name inside BACKUP_DIR
// (the manifest keeps the exact one, retention goes by it); tables, schemas and roles with
// spaces, quotes, semicolons, line breaks or other scripts are read back from the table of
// contents and restored; folders upkit was given keep their mode; partial files are judged
// by who wrote them.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { HEARTBEAT_MS, hostLabel, processSpace, startHeartbeat, sweepPartials } from '../../lib/backup/partial.ts';
import type { Report } from '../../lib/report.ts';
import { tempDir } from '../failures/check.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, serverInfo, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease, buildRelease } from '../support/releases.ts';

const BACKUP = 'scripts/backup.ts';

function urlFor(database: string): string {
  const u = new URL(serverInfo().adminUrl);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** DB_* settings for a database of any name (a URL's path cannot carry every name to every parser). */
function dbEnv(database: string): Record<string, string> {
  const u = new URL(serverInfo().adminUrl);
  return {
    DB_HOST: u.hostname,
    DB_PORT: u.port || '5432',
    DB_USER: decodeURIComponent(u.username),
    DB_PASSWORD: decodeURIComponent(u.password),
    DB_NAME: database,
  };
}

async function withDatabase<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const e = dbEnv(database);
  const c = new pg.Client({
    host: e.DB_HOST,
    port: Number(e.DB_PORT),
    user: e.DB_USER,
    password: e.DB_PASSWORD,
    database,
  });
  await c.connect();
  c.on('notice', () => {});
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('backup files for any name', backupTests(), () => {
  const db = useFreshDatabase();

  // '../x' wrote outside BACKUP_DIR, 'team/pulse' ended in ENOENT, '.' made a hidden file.
  const HOSTILE = ['../x', 'team/pulse', `Pulse "prod" 'db'; x`, `${'ü'.repeat(31)}x`, '.', 'team_pulse'];

  it('names the backups of hostile database names safely inside BACKUP_DIR; ' +
    'the manifest keeps the exact name and retention goes by it', {
    timeout: 180_000,
  }, async () => {
    expect(Buffer.byteLength(HOSTILE[3]!)).toBe(63);
    const parent = tempDir('upkit-names-');
    const dir = path.join(parent, 'backups');
    try {
      for (const name of HOSTILE) {
        await withAdminClient((c) => c.query(`drop database if exists ${ident(name)} with (force)`));
        await withAdminClient((c) => c.query(`create database ${ident(name)}`));
        await withDatabase(name, (c) => buildRelease(c, 'v1.0'));
        for (let run = 0; run < 2; run++) {
          const r = await runUpkit(BACKUP, ['--json'], { env: { ...dbEnv(name), BACKUP_DIR: dir, BACKUP_KEEP: '1' } });
          expect(r.code, `${name}\n${r.stderr}`).toBe(0);
          const file = r.json<Report>().backup!.path;
          expect(path.dirname(file), name).toBe(dir);
        }
      }
      expect(readdirSync(parent)).toEqual(['backups']);
      const files = readdirSync(dir).sort();
      // One backup per database (BACKUP_KEEP=1 for each, by the manifest's exact name).
      expect(files.filter((f) => f.endsWith('.dump'))).toHaveLength(HOSTILE.length);
      expect(files.filter((f) => f.endsWith('.dump.json'))).toHaveLength(HOSTILE.length);
      const names: string[] = [];
      for (const f of files.filter((x) => x.endsWith('.dump'))) {
        // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may reach a file name
        expect(f).not.toMatch(/^[.]|[/\\\x00-\x1f\x7f]/);
        expect(Buffer.byteLength(f)).toBeLessThanOrEqual(200);
        const m = JSON.parse(readFileSync(path.join(dir, `${f}.json`), 'utf8')) as { database: string; file: string };
        expect(m.file).toBe(f);
        names.push(m.database);
      }
      expect(names.sort()).toEqual([...HOSTILE].sort());
      expect(files.some((f) => f.startsWith(`${'ü'.repeat(31)}x-v1.0-`))).toBe(true);
      expect(files.some((f) => f.startsWith('team_pulse-v1.0-'))).toBe(true);
    } finally {
      for (const name of HOSTILE)
        await withAdminClient((c) => c.query(`drop database if exists ${ident(name)} with (force)`));
    }
  });

  it('backs up and restores tables, schemas and an owner role whose names hold spaces, ' +
    'quotes, semicolons, line breaks and other scripts, and partitioned tables', {
    timeout: 120_000,
  }, async () => {
    const role = `pulse admin "ops"; ${randomBytes(3).toString('hex')}`;
    const tables = [
      `"my schema"."the ""t"" table"`,
      `public."a b; c"`,
      `public."ünï cödé"`,
      `public."new\nline"`,
      `"my schema"."x y z"`,
    ];
    const into = `${db().database}_copy`;
    await asRelease(db(), 'v1.0');
    await withClientAt(db().url, async (c) => {
      await c.query(`create role ${ident(role)}`);
      await c.query(`create schema "my schema" authorization ${ident(role)}`);
      for (const [i, t] of tables.entries()) {
        await c.query(`create table ${t} (id int primary key)`);
        await c.query(`insert into ${t} select generate_series(1, ${i + 2})`);
        await c.query(`alter table ${t} owner to ${ident(role)}`);
      }
      await c.query(`create table public.events (id int, at int) partition by range (at)`);
      await c.query(`create table public.events_1 partition of public.events for values from (0) to (100)`);
      await c.query(`insert into public.events select g, g from generate_series(1, 50) g`);
      await c.query(`alter table public.users owner to ${ident(role)}`);
    });
    const dir = tempDir('upkit-toc-');
    try {
      const r = await runUpkit(BACKUP, ['--json'], { env: { DATABASE_URL: db().url, BACKUP_DIR: dir } });
      expect(r.code, r.stderr).toBe(0);
      const file = r.json<Report>().backup!.path;
      const restored = await runUpkit('scripts/restore.ts', [file, '--into', into, '--yes', '--json'], {
        env: { DATABASE_URL: db().url },
        timeoutMs: 90_000,
      });
      expect(restored.code, restored.stderr).toBe(0);
      const count = async (url: string) =>
        withClientAt(url, async (c) => {
          const out: Record<string, number> = {};
          for (const t of [...tables, 'public.events', 'public.users'])
            out[t] = Number((await c.query(`select count(*) as n from ${t}`)).rows[0].n);
          return out;
        });
      const source = await count(db().url);
      expect(source[tables[4]!]).toBe(6);
      expect(await count(urlFor(into))).toEqual(source);
    } finally {
      await withAdminClient((c) => c.query(`drop database if exists ${ident(into)} with (force)`));
      await db().drop();
      await withAdminClient((c) => c.query(`drop role if exists ${ident(role)}`));
    }
  });

  it(
    'leaves the mode of a log folder it was given, ' + 'creates a missing one 0700, and writes its log files 0600',
    async () => {
      const shared = tempDir('upkit-logdir-');
      chmodSync(shared, 0o1777);
      const missing = path.join(tempDir('upkit-logdir-'), 'a', 'logs');
      for (const logDir of [shared, missing]) {
        const r = await runUpkit(BACKUP, ['--help'], { env: { UPKIT_LOG_DIR: logDir } });
        expect(r.code, r.stderr).toBe(0);
        const r2 = await runUpkit('scripts/status.ts', [], { env: { DATABASE_URL: db().url, UPKIT_LOG_DIR: logDir } });
        expect(r2.stderr).toContain(logDir);
        for (const f of readdirSync(logDir)) expect(statSync(path.join(logDir, f)).mode & 0o777).toBe(0o600);
        expect(readdirSync(logDir).length).toBeGreaterThan(0);
      }
      expect(statSync(shared).mode & 0o7777).toBe(0o1777);
      expect(statSync(missing).mode & 0o7777).toBe(0o700);
      expect(statSync(path.dirname(missing)).mode & 0o7777).toBe(0o700);
    },
  );

  it(
    'keeps partial files other hosts or namespaces may be writing ' +
      'and removes those whose writer ended here or that fell silent',
    async () => {
      const dir = tempDir('upkit-partials-');
      const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
      const dead = spawn('true', [], { stdio: 'ignore' });
      await new Promise((r) => dead.on('close', r));
      try {
        const base = 'pulse-v1.0-20261124T000000Z.dump';
        const files = {
          // A live pid of this host, but written by another host: its pid means nothing here.
          otherHostFresh: `${base}.db-02.${sleeper.pid}.0badf00d.partial`,
          otherHostSilent: `${base}.db-02.${sleeper.pid}.0badf00d.partial`.replace('0000Z', '0001Z'),
          // This host and namespace: the pid is asked.
          hereAlive: `${base}.${hostLabel()}.${sleeper.pid}.${processSpace()}.partial`.replace('0000Z', '0002Z'),
          hereEnded: `${base}.${hostLabel()}.${dead.pid}.${processSpace()}.partial`.replace('0000Z', '0003Z'),
          // Same host name, another PID namespace (a container sharing the host's name).
          otherSpaceDeadPid: (
            `${base}.${hostLabel()}.${dead.pid}.` + `${processSpace() === '00000000' ? '11111111' : '00000000'}.partial`
          ).replace('0000Z', '0004Z'),
          legacyFresh: `${base}.${dead.pid}.partial`.replace('0000Z', '0005Z'),
          // Not a name upkit gives its files: never upkit's to remove, however old.
          stranger: 'notes.1.partial',
          strangerLikeOurs: `${base}.txt.${hostLabel()}.${dead.pid}.${processSpace()}.partial`,
        };
        for (const f of Object.values(files)) writeFileSync(path.join(dir, f), '');
        const old = new Date(Date.now() - 31 * 60_000);
        for (const f of [files.otherHostSilent, files.stranger, files.strangerLikeOurs])
          utimesSync(path.join(dir, f), old, old);
        const sweep = sweepPartials(dir);
        expect(sweep.removed.map((p) => p.name).sort()).toEqual([files.otherHostSilent, files.hereEnded].sort());
        expect(sweep.removed.find((p) => p.name === files.hereEnded)!.why).toBe('ended');
        expect(sweep.removed.find((p) => p.name === files.otherHostSilent)!.why).toBe('silent');
        expect(readdirSync(dir).sort()).toEqual(
          [
            files.otherHostFresh,
            files.hereAlive,
            files.otherSpaceDeadPid,
            files.legacyFresh,
            files.stranger,
            files.strangerLikeOurs,
          ].sort(),
        );
      } finally {
        sleeper.kill('SIGKILL');
      }
    },
  );

  it(
    'a writer touches its partial file every 10 s while it ' +
      'writes (never stale to itself), and stops when it is done',
    () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
      try {
        const dir = tempDir('upkit-heartbeat-');
        const file = path.join(dir, `pulse-v1.0-20261124T000000Z.dump.other-host.1.00000000.partial`);
        writeFileSync(file, '');
        const old = new Date(Date.now() - 60 * 60_000);
        utimesSync(file, old, old);
        const stop = startHeartbeat(file);
        expect(sweepPartials(dir)).toEqual({ removed: [], live: [] });
        vi.advanceTimersByTime(HEARTBEAT_MS);
        expect(statSync(file).mtimeMs).toBeGreaterThan(old.getTime() + 59 * 60_000);
        stop();
        utimesSync(file, old, old);
        vi.advanceTimersByTime(3 * HEARTBEAT_MS);
        expect(Math.round(statSync(file).mtimeMs)).toBe(old.getTime());
        expect(sweepPartials(dir).removed.map((p) => p.name)).toEqual([path.basename(file)]);
      } finally {
        vi.useRealTimers();
      }
    },
  );
});
