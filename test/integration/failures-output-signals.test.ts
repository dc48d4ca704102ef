// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): the terminal or SSH session
// hangs up (SIGHUP) during an upgrade's backup and during a restore's pg_restore. Each stops as
// SIGTERM does: exit 130, the run recorded as interrupted, no partial file, no database half
// restored, and no pg_dump or pg_restore left running after upkit.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { takeBackup } from '../../lib/backup/run.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { dbState, expectCase, failureCase, runCase, runsOf, tempDir } from '../failures/check.ts';
import { logged, until } from '../failures/interrupt.ts';
import { companions } from '../support/backupFormat.ts';
import {
  backupTests,
  connectTo,
  slowToIndex,
  useFreshDatabase,
  withAdminClient,
  withClientAt,
} from '../support/database.ts';
import { asRelease, buildRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

/** Every running process whose command line contains `text` (Linux /proc). */
function processesWith(text: string): Array<{ pid: number; cmdline: string }> {
  const out: Array<{ pid: number; cmdline: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      const state = /\) (\S)/.exec(readFileSync(`/proc/${entry}/stat`, 'utf8'))?.[1];
      if (cmdline.includes(text) && state !== 'Z') out.push({ pid: Number(entry), cmdline });
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** The pids whose parent is `parent` (Linux /proc). */
function childPids(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) out.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

describe('failure catalogue: SIGHUP', backupTests(), () => {
  const db = useFreshDatabase();

  it('out.sighup-backup', async () => {
    await asRelease(db(), 'v2.2');
    await withClientAt(db().url, async (c) => {
      await c.query('create schema archive; create table archive.events as select i from generate_series(1, 100) i');
    });
    const blocker = await connectTo(db().url, 'pulse-api');
    try {
      const before = await dbState(db().url);
      await blocker.query('begin');
      await blocker.query('lock table archive.events in access exclusive mode');
      const backups = tempDir('upkit-case-bk-');
      const logDir = tempDir('upkit-case-logs-');
      const fc = failureCase('out.sighup-backup');
      let pid = 0;
      const running = runCase(
        fc,
        { url: db().url, backups },
        { extraEnv: { UPKIT_LOG_DIR: logDir }, onSpawn: (p) => (pid = p) },
      );
      let finished = false;
      void running.then(() => (finished = true));
      await until(() => finished || logged(logDir, /step pg_dump → .*: started/)(), 'pg_dump to start');
      await until(() => finished || childPids(pid).some((p) => comm(p) === 'pg_dump'), 'pg_dump to run');
      expect(finished, 'the upgrade ended before pg_dump ran').toBe(false);
      process.kill(pid, 'SIGHUP');
      const r = await running;
      // pg_dump waits on the lock still held: only upkit can have ended it.
      const orphans = processesWith(backups);
      await blocker.query('rollback');
      expectCase(r, fc, r.vars);
      expect(orphans).toEqual([]);
      expect(readdirSync(backups)).toEqual([]);
      expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'interrupted' }]);
      const after = await dbState(db().url);
      expect({ fp: after.fingerprint, rows: after.rows, drizzle: after.drizzle }).toEqual({
        fp: before.fingerprint,
        rows: before.rows,
        drizzle: before.drizzle,
      });
      expect(
        readdirSync(logDir)
          .map((f) => readFileSync(path.join(logDir, f), 'utf8'))
          .join('\n'),
      ).toContain('SIGHUP received: stopping after rolling back what is in progress');
    } finally {
      await blocker.query('rollback').catch(() => {});
      await blocker.end();
    }
  });

  it('out.sighup-restore', async () => {
    await withAdminClient((c) => buildRelease(c, 'v2.3', { data: { users: 2_000 } }), db().database);
    // An index pg_restore takes 30 s to build: pg_restore is still running when it is looked for.
    await slowToIndex(db());
    const dir = tempDir('upkit-restore-');
    const backup = await takeBackup(loadConfig({ env: { DATABASE_URL: db().url }, cwd: dir }), quiet(), {
      backupDir: dir,
      keep: 5,
      upkitVersion: 'test',
    });
    await withAdminClient((c) => c.query('delete from audit_logs'), db().database);
    const live = await withAdminClient((c) => rowSnapshot(c), db().database);

    const logDir = tempDir('upkit-case-logs-');
    const fc = failureCase('out.sighup-restore');
    let pid = 0;
    const running = runCase(
      fc,
      { url: db().url, file: backup.path },
      { extraEnv: { UPKIT_LOG_DIR: logDir }, onSpawn: (p) => (pid = p) },
    );
    let finished = false;
    void running.then(() => (finished = true));
    // pg_restore is paused so that the hang-up lands while it runs, whatever the machine's speed.
    let restorer = 0;
    await until(() => {
      if (finished) return true;
      restorer =
        childPids(pid).find((p) => comm(p) === 'pg_restore' && /--jobs=|--single-transaction/.test(cmdline(p))) ?? 0;
      return restorer !== 0;
    }, 'pg_restore to start');
    expect(finished, 'the restore ended before pg_restore ran').toBe(false);
    process.kill(restorer, 'SIGSTOP');
    const [restored] = await companions(db());
    process.kill(pid, 'SIGHUP');
    await until(() => finished || logged(logDir, /SIGHUP received/)(), 'upkit to take the hang-up');
    process.kill(restorer, 'SIGCONT');
    const r = await running;
    // Still alive after upkit ended: an orphan.
    let orphan = false;
    try {
      process.kill(restorer, 0);
      orphan = !/\) Z/.test(readFileSync(`/proc/${restorer}/stat`, 'utf8'));
    } catch {
      orphan = false;
    }
    expectCase(r, fc, { ...r.vars, restored: restored! });
    expect(orphan, 'pg_restore outlived upkit').toBe(false);
    expect(processesWith(backup.path).filter((p) => /pg_restore/.test(p.cmdline))).toEqual([]);
    expect(await companions(db())).toEqual([]);
    expect(await withAdminClient((c) => rowSnapshot(c), db().database)).toEqual(live);
  });
});
