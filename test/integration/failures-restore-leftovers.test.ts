// Catalogue cases (test/failures/hardening/restore.ts): what an in-place restore killed with
// -9 leaves on the server, found and explained by the next status, upgrade, preflight and
// restore; `restore --recover` puts it right, and only what upkit can prove it made is dropped.
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { newMarker, writeMarker } from '../../lib/backup/leftovers.ts';
import { companionName } from '../../lib/backup/restoreDb.ts';
import { Writable } from 'node:stream';
import { takeBackup } from '../../lib/backup/run.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { expectCase, failureCase, runCase, tempDir } from '../failures/check.ts';
import { runUpkit } from '../support/cli.ts';
import {
  backupTests,
  useFreshDatabase,
  withAdminClient,
  withClientAt,
  type TestDatabase,
} from '../support/database.ts';
import { asRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

/** A pid no process has: the restore that made the copy is gone. */
const DEAD_PID = 4_000_000;

async function databases(db: TestDatabase): Promise<Array<{ datname: string; datallowconn: boolean }>> {
  const { rows } = await withAdminClient((c) =>
    c.query('select datname, datallowconn from pg_database where starts_with(datname, $1) order by 1', [db.name]),
  );
  return rows;
}

/**
 * The server as a restore killed with -9 leaves it: its copy, with the restore's marker
 * (or none), and when it was killed in the swap, the live database refusing connections.
 */
async function leaveCopy(
  db: TestDatabase,
  how: { stage?: 'restoring' | 'swap'; marked?: boolean },
): Promise<{ restored: string; startedAt: string }> {
  const restored = companionName(db.name, 'restore', new Date(Date.now() - 60_000));
  const marker = { ...newMarker(db.name, null, '/backups/x.dump'), pid: DEAD_PID, stage: how.stage ?? 'restoring' };
  await withAdminClient(async (c) => {
    marker.server = (await c.query<{ id: string }>('select system_identifier::text as id from pg_control_system()'))
      .rows[0]!.id;
    await c.query(`create database ${c.escapeIdentifier(restored)}`);
    if (how.marked !== false) await writeMarker(c, restored, marker);
    if (how.stage === 'swap')
      await c.query(`alter database ${c.escapeIdentifier(db.name)} with allow_connections false`);
  });
  return { restored, startedAt: marker.startedAt };
}

describe('failure catalogue: what a stopped restore leaves', () => {
  const db = useFreshDatabase();
  afterEach(async () => {
    for (const { datname } of await databases(db())) {
      await withAdminClient(async (c) => {
        await c.query(`alter database ${c.escapeIdentifier(datname)} with allow_connections true`);
        if (datname !== db().name) await c.query(`drop database ${c.escapeIdentifier(datname)} with (force)`);
      });
    }
  });

  async function interruptedSwap(id: string, backup = false): Promise<void> {
    await asRelease(db(), 'v2.2');
    const extra: Record<string, string> = {};
    if (backup) {
      const dir = tempDir('upkit-case-leftover-');
      extra.file = (
        await takeBackup(loadConfig({ env: { DATABASE_URL: db().url }, cwd: dir }), quiet(), {
          backupDir: dir,
          keep: 5,
          upkitVersion: 'test',
        })
      ).path;
    }
    const rows = await withClientAt(db().url, (c) => rowSnapshot(c));
    const { restored } = await leaveCopy(db(), { stage: 'swap' });
    const c = failureCase(id);
    const r = await runCase(c, {
      url: db().url,
      database: db().name,
      host: db().host,
      port: db().port,
      restored,
      pid: DEAD_PID,
      hostname: hostname(),
      ...extra,
    });
    expectCase(r, c, r.vars);
    // Nothing changed: still refusing, the copy still there.
    expect(await databases(db())).toEqual([
      { datname: db().name, datallowconn: false },
      { datname: restored, datallowconn: true },
    ]);
    // The command it names puts it back, and nothing of the live database is lost.
    const recover = await runUpkit('scripts/restore.ts', ['--recover'], { env: { DATABASE_URL: db().url } });
    expect(recover.code, recover.stderr).toBe(0);
    expect(recover.stderr).toContain(
      `${db().name} accepts connections again (an in-place restore had been stopped during its swap)`,
    );
    expect(recover.stderr).toContain(
      `dropped ${restored}, left by an in-place restore of ` +
        `${db().name} that was stopped (pid ${DEAD_PID} on ${hostname()}`,
    );
    expect(await databases(db())).toEqual([{ datname: db().name, datallowconn: true }]);
    expect(await withClientAt(db().url, (x) => rowSnapshot(x))).toEqual(rows);
  }

  it('status.interrupted-swap', () => interruptedSwap('status.interrupted-swap'));
  it('upgrade.interrupted-swap', () => interruptedSwap('upgrade.interrupted-swap'));
  it('preflight.interrupted-swap', () => interruptedSwap('preflight.interrupted-swap'));
  it('restore.interrupted-swap', backupTests(), () => interruptedSwap('restore.interrupted-swap', true));

  it('status.restore-leftover, then the next restore --recover drops it', async () => {
    await asRelease(db(), 'v2.2');
    const { restored } = await leaveCopy(db(), {});
    const c = failureCase('status.restore-leftover');
    const r = await runCase(c, { url: db().url, database: db().name, restored, pid: DEAD_PID, hostname: hostname() });
    expectCase(r, c, r.vars);
    expect((await databases(db())).map((d) => d.datname)).toEqual([db().name, restored]);
    const recover = await runUpkit('scripts/restore.ts', ['--recover'], { env: { DATABASE_URL: db().url } });
    expect(recover.code, recover.stderr).toBe(0);
    expect(await databases(db())).toEqual([{ datname: db().name, datallowconn: true }]);
  });

  it('status.restore-leftover-unproven: listed, never dropped', async () => {
    await asRelease(db(), 'v2.2');
    const { restored } = await leaveCopy(db(), { marked: false });
    const c = failureCase('status.restore-leftover-unproven');
    const r = await runCase(c, {
      url: db().url,
      database: db().name,
      restored,
      host: db().host,
      port: db().port,
      user: db().user,
    });
    expectCase(r, c, r.vars);
    const recover = await runUpkit('scripts/restore.ts', ['--recover'], { env: { DATABASE_URL: db().url } });
    expect(recover.code, recover.stderr).toBe(0);
    expect(recover.stderr).toContain(
      `nothing to recover: ${db().name} accepts connections and no copy of a stopped restore is left`,
    );
    expect((await databases(db())).map((d) => d.datname)).toEqual([db().name, restored]);
  });

  it('a copy marked for another database or another server is not dropped', async () => {
    await asRelease(db(), 'v2.2');
    const restored = companionName(db().name, 'restore', new Date(Date.now() - 60_000));
    await withAdminClient(async (c) => {
      await c.query(`create database ${c.escapeIdentifier(restored)}`);
      await writeMarker(c, restored, { ...newMarker(db().name, '1234567890', '/x.dump'), pid: DEAD_PID });
    });
    const recover = await runUpkit('scripts/restore.ts', ['--recover'], { env: { DATABASE_URL: db().url } });
    expect(recover.code, recover.stderr).toBe(0);
    expect((await databases(db())).map((d) => d.datname)).toEqual([db().name, restored]);
  });

  it(
    'with DIRECT_URL set, status names the stopped swap and restore ' +
      '--recover puts it right (the DIRECT_URL check waits for them)',
    async () => {
      await asRelease(db(), 'v2.2');
      const { restored } = await leaveCopy(db(), { stage: 'swap' });
      const direct = new URL(db().url);
      direct.searchParams.set('application_name', 'direct');
      const env = { DATABASE_URL: db().url, DIRECT_URL: direct.toString() };
      const status = await runUpkit('scripts/status.ts', [], { env });
      expect(status.code, status.stderr).toBe(3);
      expect(status.stderr).toContain('could not check that DIRECT_URL');
      expect(status.stderr).toContain(
        `✖ database ${db().name} refuses connections: an in-place restore (pid ${DEAD_PID} on ${hostname()}`,
      );
      expect(status.stderr).toContain('npx zx scripts/restore.ts --recover');
      const recover = await runUpkit('scripts/restore.ts', ['--recover'], { env });
      expect(recover.code, recover.stderr).toBe(0);
      expect(recover.stderr).toContain(
        `${db().name} accepts connections again (an in-place restore had been stopped during its swap)`,
      );
      expect(await databases(db())).toEqual([{ datname: db().name, datallowconn: true }]);
      expect(restored).toBeTruthy();
    },
  );
});
