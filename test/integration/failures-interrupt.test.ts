// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): Ctrl-C (or SIGTERM) before
// any change: during preflight, the plan, the backup, a wait for a table lock, and the legacy
// phase. Each exits 130 with the run lock released, says nothing was changed, and leaves
// Pulse's schema, data and ledgers as they were.
import { readdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_KEY } from '../../lib/db.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { dbState, expectCase, failureCase, runsOf, tempDir } from '../failures/check.ts';
import { interruptCase, logged, waitingOn } from '../failures/interrupt.ts';
import { backupTests, connectTo, useFreshDatabase, withClientAt } from '../support/database.ts';
import { buildRelease, type FixtureRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

describe('failure catalogue: interrupted before any change', () => {
  const db = useFreshDatabase();

  /** Pulse's schema, rows and drizzle's ledger: what "nothing was changed" is about. */
  async function pulseState() {
    return withClientAt(db().url, async (c) => ({
      fp: await schemaFingerprint(c),
      rows: await rowSnapshot(c),
      drizzle: await rowSnapshot(c, 'drizzle'),
    }));
  }

  /** Nobody holds the run lock any more. */
  async function lockFree(): Promise<boolean> {
    return withClientAt(db().url, async (c) => {
      const { rows } = await c.query('select pg_try_advisory_lock($1::int, $2::int) as ok', [
        LOCK_KEY.classId,
        LOCK_KEY.objId,
      ]);
      await c.query('select pg_advisory_unlock_all()');
      return rows[0].ok === true;
    });
  }

  /** Runs the case against a release while `blockSql` holds a lock in an open transaction. */
  async function blocked(
    id: string,
    release: FixtureRelease,
    blockSql: string,
    ready: (c: import('pg').Client, logDir: string) => () => boolean | Promise<boolean>,
    signal: NodeJS.Signals = 'SIGINT',
  ) {
    // int.backup adds a schema of its own first: built on, not copied.
    await withClientAt(db().url, (c) => buildRelease(c, release));
    const c = await connectTo(db().url);
    const blocker = await connectTo(db().url, 'pulse-api');
    try {
      const before = await pulseState();
      await blocker.query('begin');
      await blocker.query(blockSql);
      const backups = tempDir('upkit-case-bk-');
      const fc = failureCase(id);
      const r = await interruptCase(fc, { url: db().url, backups }, (logDir) => ready(c, logDir), { signal });
      await blocker.query('rollback');
      const dumps = readdirSync(backups).filter((f) => f.endsWith('.dump'));
      expectCase(r, fc, { ...r.vars, backup: dumps[0] ? path.join(backups, dumps[0]) : '' });
      expect(await pulseState()).toEqual(before);
      expect(await lockFree()).toBe(true);
      return { r, dumps, backups };
    } finally {
      await blocker.query('rollback').catch(() => {});
      await Promise.all([c.end(), blocker.end()]);
    }
  }

  it('int.preflight', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const c = failureCase('int.preflight');
      // The connection would wait 10 minutes for its answer, far beyond the runner's kill timer:
      // the case's exit 130 means the signal ended the wait.
      const r = await interruptCase(c, { host: '127.0.0.1', port }, () => () => sockets.length > 0, {
        extraEnv: { CONNECT_TIMEOUT: '600000' },
      });
      expectCase(r, c, r.vars);
      expect(sockets).toHaveLength(1);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('int.plan', async () => {
    // The ledger is a read the plan cannot do without (a table it only probes for rows, it skips when locked).
    await blocked('int.plan', 'v2.2', 'lock table drizzle.__drizzle_migrations in access exclusive mode', (c) =>
      waitingOn(c, /__drizzle_migrations/),
    );
    expect((await dbState(db().url)).schemas).not.toContain('upkit');
  });

  it('int.backup', backupTests(), async () => {
    await withClientAt(db().url, (c) =>
      c.query('create schema archive; create table archive.events as select i from generate_series(1, 100) i'),
    );
    const { dumps, backups } = await blocked(
      'int.backup',
      'v2.2',
      'lock table archive.events in access exclusive mode',
      (_c, logDir) => logged(logDir, /step pg_dump → .*: started/),
      'SIGTERM',
    );
    expect(dumps).toEqual([]);
    expect(readdirSync(backups)).toEqual([]);
    expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'interrupted' }]);
  });

  it('int.lock-wait', backupTests(), async () => {
    const { dumps } = await blocked(
      'int.lock-wait',
      'v2.0',
      'lock table organizations in row exclusive mode',
      (_c, logDir) => logged(logDir, /lock busy/),
    );
    expect(dumps).toHaveLength(1);
    expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'interrupted' }]);
  });

  it('int.legacy', backupTests(), async () => {
    const { dumps } = await blocked('int.legacy', 'v1.1', 'select count(*) from users', (c) =>
      waitingOn(c, /ALTER TABLE|users/i),
    );
    expect(dumps).toHaveLength(1);
    expect(await runsOf(db().url)).toEqual([{ command: 'upgrade', status: 'interrupted' }]);
    expect(
      await withClientAt(db().url, (c) => c.query('select count(*)::int as n from upkit.legacy_migrations')),
    ).toMatchObject({ rows: [{ n: 0 }] });
  });
});
