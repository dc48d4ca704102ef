// Catalogue cases (test/failures/hardening/rollback.ts): rollback restores the backup the run
// took, proved by what upkit.runs recorded (sha256, server, database), or refuses, exit 3,
// with nothing changed.
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { takeBackup } from '../../lib/backup/run.ts';
import { readManifest } from '../../lib/backup/manifest.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { logged, until } from '../failures/interrupt.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, connectTo, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease, DRIZZLE_DIR, releaseDatabase } from '../support/releases.ts';

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

describe('failure catalogue: rollback', backupTests(), () => {
  const db = useFreshDatabase();

  async function companions(): Promise<string[]> {
    const { rows } = await withAdminClient((c) =>
      c.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1) order by 1', [
        `${db().name}_`,
      ]),
    );
    return rows.map((r) => r.datname);
  }

  /** A v2.2 install upgraded to v2.3 by upkit, which took a backup first. */
  async function upgraded(): Promise<{ backup: string; sha: string; env: Record<string, string> }> {
    await asRelease(db(), 'v2.2');
    const env = { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-case-rollback-') };
    const up = await runUpkit('upgrade.ts', ['--yes', '--json'], { env, timeoutMs: 120_000 });
    expect(up.code, up.stderr).toBe(0);
    const backup = up.json().backup!;
    return { backup: backup.path, sha: backup.sha256, env };
  }

  /** A verified backup of another database on the same server. */
  async function otherBackup(): Promise<{ path: string; manifestPath: string; database: string; sha: string }> {
    const other = await releaseDatabase('v2.3');
    try {
      const dir = tempDir('upkit-case-other-');
      const b = await takeBackup(loadConfig({ env: { DATABASE_URL: other.url }, cwd: dir }), quiet(), {
        backupDir: dir,
        keep: 5,
        upkitVersion: 'test',
      });
      return { path: b.path, manifestPath: b.manifestPath, database: other.name, sha: b.manifest.sha256 };
    } finally {
      await other.drop();
    }
  }

  it('rollback.backup-replaced', { timeout: 180_000 }, async () => {
    const { backup, sha, env } = await upgraded();
    const other = await otherBackup();
    copyFileSync(other.path, backup);
    copyFileSync(other.manifestPath, `${backup}.json`);
    const before = await dbState(db().url);
    const c = failureCase('rollback.backup-replaced');
    const r = await runCase(
      c,
      { url: db().url, database: db().name, file: backup, other: other.database, otherSha: other.sha, sha },
      { extraEnv: env, timeoutMs: 60_000 },
    );
    expectCase(r, c, { ...r.vars, file: backup });
    await expectUnchanged(db().url, before);
    expect(await companions()).toEqual([]);
  });

  it('rollback.backup-file-swapped', { timeout: 180_000 }, async () => {
    const { backup, sha, env } = await upgraded();
    const other = await otherBackup();
    const mine = readManifest(`${backup}.json`);
    const theirs = readManifest(other.manifestPath);
    copyFileSync(other.path, backup);
    writeFileSync(
      `${backup}.json`,
      JSON.stringify({ ...mine, bytes: theirs.bytes, sha256: theirs.sha256, tables: theirs.tables }),
    );
    expect(readFileSync(backup).length).toBe(theirs.bytes);
    const before = await dbState(db().url);
    const c = failureCase('rollback.backup-file-swapped');
    const r = await runCase(
      c,
      { url: db().url, database: db().name, file: backup, otherSha: other.sha, sha },
      { extraEnv: env, timeoutMs: 60_000 },
    );
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await companions()).toEqual([]);
  });

  it('rollback.writes-since', { timeout: 180_000 }, async () => {
    const { env } = await upgraded();
    await withClientAt(db().url, (c) =>
      c.query('create table public.notes (id int); insert into public.notes select generate_series(1, 3)'),
    );
    const before = await dbState(db().url);
    const c = failureCase('rollback.writes-since');
    const r = await runCase(c, { url: db().url, database: db().name }, { extraEnv: env, timeoutMs: 60_000 });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await companions()).toEqual([]);
  });

  it('rollback.discard-writes', { timeout: 180_000 }, async () => {
    const { env } = await upgraded();
    await withClientAt(db().url, (c) =>
      c.query('create table public.notes (id int); insert into public.notes select generate_series(1, 3)'),
    );
    const c = failureCase('rollback.discard-writes');
    const r = await runCase(c, { url: db().url, database: db().name }, { extraEnv: env, timeoutMs: 120_000 });
    expectCase(r, c, r.vars);
    expect(
      await withClientAt(db().url, async (x) => (await x.query(`select to_regclass('public.notes') as t`)).rows[0].t),
    ).toBeNull();
    const [kept] = await companions();
    expect(kept).toMatch(/_before_restore_/);
    await withAdminClient((x) => x.query(`drop database ${x.escapeIdentifier(kept!)} with (force)`));
  });

  /** v2.3 upgraded by upkit to an app's 0004_notes (a table with 2 rows), whose down file is `down`. */
  async function withDownFile(down: string): Promise<{ dir: string; file: string; env: Record<string, string> }> {
    await asRelease(db(), 'v2.3');
    const dir = mkdtempSync(path.join(tmpdir(), 'upkit-app-drizzle-'));
    cpSync(DRIZZLE_DIR, dir, { recursive: true });
    const journalPath = path.join(dir, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
    const last = readMigrations(DRIZZLE_DIR)[3]!;
    journal.entries.push({ idx: 4, version: '7', when: last.when + 1000, tag: '0004_notes', breakpoints: true });
    writeFileSync(journalPath, JSON.stringify(journal));
    writeFileSync(path.join(dir, '0004_notes.sql'), 'CREATE TABLE "notes" ("id" integer PRIMARY KEY);');
    cpSync(path.join(dir, 'meta', '0003_snapshot.json'), path.join(dir, 'meta', '0004_snapshot.json'));
    mkdirSync(path.join(dir, 'down'));
    const file = path.join(dir, 'down', '0004_notes.sql');
    writeFileSync(file, down);
    const env = { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-case-down-') };
    const up = await runUpkit('upgrade.ts', ['--yes', '--drizzle-dir', dir], { env, timeoutMs: 120_000 });
    expect(up.code, up.stderr).toBe(0);
    await withClientAt(db().url, (c) => c.query('insert into notes values (1), (2)'));
    return { dir, file, env };
  }

  async function downRefused(id: string, down: string, extra: Record<string, string> = {}): Promise<void> {
    const { dir, file, env } = await withDownFile(down);
    const before = await dbState(db().url);
    const c = failureCase(id);
    const r = await runCase(
      c,
      { url: db().url, database: db().name, dir, file, ...extra },
      { extraEnv: env, timeoutMs: 120_000 },
    );
    expectCase(r, c, r.vars);
    const after = await dbState(db().url);
    // Schema, rows and drizzle's ledger as before; upkit.runs may record the refused run.
    expect({ ...after, upkit: null }).toEqual({ ...before, upkit: null });
    if (c.code === 'rollback.down_failed') {
      const runs = await withClientAt(
        db().url,
        async (x) =>
          (
            await x.query(
              `select command, status, backup_sha256 is not null as ` +
                `backed from upkit.runs order by started_at desc limit 1`,
            )
          ).rows,
      );
      expect(runs).toEqual([{ command: 'rollback --down 0004_notes', status: 'refused', backed: true }]);
    } else {
      expect(after.upkit).toEqual(before.upkit);
    }
  }

  it('rollback.down-commit', { timeout: 180_000 }, async () => {
    await downRefused(
      'rollback.down-commit',
      'ALTER TABLE "notes" ADD COLUMN "x" integer;\nCOMMIT;\nDROP TABLE "notes";\n',
    );
  });

  it('rollback.down-destructive', { timeout: 180_000 }, async () => {
    await downRefused('rollback.down-destructive', '-- the notes go\nDROP TABLE "notes";\n');
  });

  it('rollback.down-error', { timeout: 180_000 }, async () => {
    await downRefused(
      'rollback.down-error',
      'ALTER TABLE "notes" ADD COLUMN "x" integer;\nUPDATE "notes" SET "x" = "nosuch" WHERE "id" = 1;\n',
    );
  });

  it('rollback.down-interrupted', { timeout: 180_000 }, async () => {
    const { dir, file, env } = await withDownFile('DROP TABLE "notes";\n');
    const before = await dbState(db().url);
    const c = failureCase('rollback.down-interrupted');
    const blocker = await connectTo(db().url, 'pulse-api report');
    const watcher = await connectTo(db().url);
    try {
      await blocker.query('begin');
      await blocker.query('lock table notes in access exclusive mode');
      let pid = 0;
      const logDir = tempDir('upkit-case-logs-');
      const running = runCase(
        c,
        { url: db().url, database: db().name, dir, file },
        { extraEnv: { ...env, UPKIT_LOG_DIR: logDir }, timeoutMs: 120_000, onSpawn: (p) => (pid = p) },
      );
      // pg_dump waits for the lock the report holds.
      await until(
        async () =>
          (
            await watcher.query(
              `select 1 from pg_stat_activity where datname = current_database() ` +
                `and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
            )
          ).rowCount! > 0,
        'pg_dump to wait for its lock',
      );
      process.kill(pid, 'SIGTERM');
      // The report ends only once upkit has taken the signal in: a run that ignored it would go on to the down file.
      await until(logged(logDir, /SIGTERM received/), 'upkit to take the signal in');
      await blocker.query('rollback');
      const r = await running;
      expectCase(r, c, r.vars);
    } finally {
      await blocker.query('rollback').catch(() => {});
      await Promise.all([blocker.end(), watcher.end()]);
    }
    const after = await dbState(db().url);
    expect({ ...after, upkit: null }).toEqual({ ...before, upkit: null });
  });
});
