// kill -9 of upkit (and Ctrl-C) at the worst moments: while the legacy file, a drizzle
// migration, or a concurrent index build waits on the database. The rerun must converge
// to a fresh install's schema with every row kept.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { runUpkit, type RunResult } from '../support/cli.ts';
import { backupArgs, connectTo, useFreshDatabase } from '../support/database.ts';
import { asRelease, type FixtureRelease, freshInstallFingerprint } from '../support/releases.ts';
import { flattenFlags, lostOrChanged, rowSnapshot, upgradeTransforms } from '../support/rows.ts';
import { lockWaiter, until, untilFound } from '../support/wait.ts';

const connect = connectTo;

/** Waits until upkit's migration session waits on a lock while running a statement matching `query`. */
function untilWaiting(c: pg.Client, query: RegExp, timeoutMs = 30_000): Promise<number> {
  return untilFound(() => lockWaiter(c, query), { what: `upkit to wait on ${query}`, everyMs: 20, timeoutMs });
}

async function untilGone(c: pg.Client): Promise<void> {
  await until(
    async () =>
      (
        await c.query(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() ` +
            `and application_name like 'upkit %' and pid <> pg_backend_pid()`,
        )
      ).rows[0].n === 0,
    { what: "upkit's sessions to end", everyMs: 20, timeoutMs: 60_000 },
  );
}

describe('crashes and interruptions', () => {
  const db = useFreshDatabase();

  async function crashAndRerun(
    release: FixtureRelease,
    blockSql: string,
    waitFor: RegExp,
    terminateBackend: boolean,
  ): Promise<RunResult> {
    await asRelease(db(), release);
    const c = await connect(db().url);
    const blocker = await connect(db().url, 'pulse-api');
    try {
      const before = flattenFlags(await rowSnapshot(c));
      const env = {
        DATABASE_URL: db().url,
        BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')),
        LOCK_TIMEOUT: '60000',
      };
      await blocker.query('begin isolation level repeatable read');
      await blocker.query(blockSql);
      let pid = 0;
      const first = runUpkit('upgrade.ts', [...backupArgs(), '--yes'], { env, onSpawn: (p) => (pid = p) });
      const backend = await untilWaiting(c, waitFor);
      process.kill(pid, 'SIGKILL');
      expect((await first).signal).toBe('SIGKILL');
      // A server restart or a network drop would end the session the same way.
      if (terminateBackend) await c.query('select pg_terminate_backend($1)', [backend]);
      await blocker.query('rollback');
      await untilGone(c);
      expect((await c.query(`select status from upkit.runs`)).rows).toEqual([{ status: 'running' }]);
      const rerun = await runUpkit('upgrade.ts', [...backupArgs(), '--json', '--yes'], { env });
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(rerun.stderr).toContain('died without finishing; marked crashed');
      expect(await schemaFingerprint(c)).toEqual(await freshInstallFingerprint());
      expect(lostOrChanged(before, flattenFlags(await rowSnapshot(c)), upgradeTransforms)).toEqual([]);
      expect((await c.query('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n).toBe(4);
      expect((await c.query('select status from upkit.runs order by started_at')).rows.map((r) => r.status)).toEqual([
        'crashed',
        'ok',
      ]);
      return rerun;
    } finally {
      await blocker.query('rollback').catch(() => {});
      await Promise.all([c.end(), blocker.end()]);
    }
  }

  it('kill -9 during the legacy phase: the rerun converges with nothing lost', async () => {
    await crashAndRerun('v1.1', 'lock table users in access share mode', /upkit|ALTER TABLE|CREATE/i, false);
  });

  it('kill -9 during a drizzle migration: the rerun converges with nothing lost', async () => {
    await crashAndRerun('v2.0', 'lock table organizations in row exclusive mode', /api_keys/, false);
  });

  it('kill -9 during the concurrent index build: the INVALID index is dropped and built again', async () => {
    const rerun = await crashAndRerun('v2.1', 'select count(*) from users', /CONCURRENTLY/, true);
    expect(rerun.stderr).toContain(
      'dropping INVALID index audit_logs_organization_created_idx, left by an earlier build',
    );
    expect(rerun.stderr).toContain('resuming after transaction');
  });

  it('Ctrl-C cancels the statement, rolls back, releases the lock and says where the database stands', async () => {
    await asRelease(db(), 'v2.0');
    const c = await connect(db().url);
    const blocker = await connect(db().url, 'pulse-api');
    try {
      const env = {
        DATABASE_URL: db().url,
        BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')),
        LOCK_TIMEOUT: '60000',
      };
      await blocker.query('begin');
      await blocker.query('lock table organizations in row exclusive mode');
      let pid = 0;
      const first = runUpkit('upgrade.ts', [...backupArgs(), '--yes'], { env, onSpawn: (p) => (pid = p) });
      await untilWaiting(c, /api_keys/);
      process.kill(pid, 'SIGINT');
      const r = await first;
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toContain('SIGINT received: stopping after rolling back what is in progress');
      await blocker.query('rollback');
      expect((await c.query(`select to_regclass('public.api_keys') as t`)).rows[0].t).toBeNull();
      expect((await c.query(`select status from upkit.runs`)).rows).toEqual([{ status: 'interrupted' }]);
      const rerun = await runUpkit('upgrade.ts', [...backupArgs(), '--yes'], { env });
      expect(rerun.code, rerun.stderr).toBe(0);
    } finally {
      await blocker.query('rollback').catch(() => {});
      await Promise.all([c.end(), blocker.end()]);
    }
  });
});
