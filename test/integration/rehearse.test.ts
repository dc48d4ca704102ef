// withRehearsal: the backup is restored into a scratch database that exists (with the
// backup's data) while fn runs, and is gone afterwards: after fn returns, throws, or the
// run is interrupted.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { takeBackup, type BackupResult } from '../../lib/backup/run.ts';
import { loadConfig, type Config, type DbTarget } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { withRehearsal } from '../../lib/rehearse.ts';
import { backupTests, useFreshDatabase, withAdminClient } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

async function exists(name: string): Promise<boolean> {
  return withAdminClient(
    async (c) => ((await c.query('select 1 from pg_database where datname = $1', [name])).rowCount ?? 0) > 0,
  );
}

async function scratchSnapshot(target: DbTarget) {
  const c = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
  });
  await c.connect();
  try {
    return { public: await rowSnapshot(c, 'public'), drizzle: await rowSnapshot(c, 'drizzle') };
  } finally {
    await c.end();
  }
}

describe('withRehearsal', backupTests(), () => {
  const db = useFreshDatabase();

  async function setUp(): Promise<{
    config: Config;
    backup: BackupResult;
    live: Awaited<ReturnType<typeof scratchSnapshot>>;
  }> {
    await asRelease(db(), 'v2.3');
    const dir = mkdtempSync(path.join(tmpdir(), 'upkit-rehearse-'));
    const config = loadConfig({ env: { DATABASE_URL: db().url }, cwd: dir });
    const backup = await takeBackup(config, quiet(), { backupDir: dir, keep: 5, upkitVersion: 'test' });
    // Changed after the backup: the rehearsal must hold the backup's rows, not these.
    await withAdminClient((c) => c.query('delete from audit_logs'), db().database);
    const live = await withAdminClient(
      async (c) => ({ public: await rowSnapshot(c, 'public'), drizzle: await rowSnapshot(c, 'drizzle') }),
      db().database,
    );
    return { config, backup, live };
  }

  it('hands fn a scratch database holding the backup, and drops it afterwards', async () => {
    const { config, backup } = await setUp();
    const expectedAudit = backup.manifest.tables['public.audit_logs'];
    let seen: { name: string; existed: boolean; audit: number | undefined } | undefined;
    const r = await withRehearsal(config, quiet(), backup, async (scratch) => {
      const snap = await scratchSnapshot(scratch);
      seen = {
        name: scratch.database,
        existed: await exists(scratch.database),
        audit: snap.public.get('audit_logs')?.size,
      };
      expect(snap.drizzle.get('__drizzle_migrations')?.size).toBe(4);
      return 'upgraded';
    });
    expect(r.result).toBe('upgraded');
    expect(r.database).toMatch(new RegExp(`^${db().name}_rehearsal_\\d{8}t\\d{6}z$`));
    expect(seen).toEqual({ name: r.database, existed: true, audit: expectedAudit });
    expect(expectedAudit).toBeGreaterThan(0);
    expect(r.durationMs).toBeGreaterThanOrEqual(r.restoreMs);
    expect(await exists(r.database)).toBe(false);
  });

  it('drops the scratch database when fn throws, and passes the error on', async () => {
    const { config, backup, live } = await setUp();
    let name = '';
    await expect(
      withRehearsal(config, quiet(), backup, async (scratch) => {
        name = scratch.database;
        throw new Error('the upgrade failed on the rehearsal');
      }),
    ).rejects.toThrow('the upgrade failed on the rehearsal');
    expect(name).not.toBe('');
    expect(await exists(name)).toBe(false);
    // The live database was never touched.
    expect(
      await withAdminClient(
        async (c) => ({ public: await rowSnapshot(c, 'public'), drizzle: await rowSnapshot(c, 'drizzle') }),
        db().database,
      ),
    ).toEqual(live);
  });

  it("stops waiting for fn when interrupted and drops the scratch database, ending fn's sessions", async () => {
    const { config, backup } = await setUp();
    const controller = new AbortController();
    let name = '';
    let sleepEnded = '';
    let fnDone = () => {};
    const fnEnded = new Promise<void>((resolve) => (fnDone = resolve));
    await expect(
      withRehearsal(
        config,
        quiet(),
        backup,
        async (scratch) => {
          name = scratch.database;
          const c = new pg.Client({
            host: scratch.host,
            port: scratch.port,
            user: scratch.user,
            password: scratch.password,
            database: scratch.database,
          });
          c.on('error', () => {});
          await c.connect();
          setTimeout(() => controller.abort(), 50);
          // A long statement holding a session in the scratch database when the interruption comes.
          sleepEnded = await c.query('select pg_sleep(30)').then(
            () => 'finished',
            (err: { code?: string; message?: string }) => err.code ?? err.message ?? String(err),
          );
          await c.end().catch(() => {});
          fnDone();
        },
        { signal: controller.signal },
      ),
    ).rejects.toMatchObject({ code: 'interrupted', exit: 'interrupted' });
    // It did not wait for fn: the drop, which comes only once it stopped waiting, ended fn's
    // statement (administrator command) before the statement could finish.
    await fnEnded;
    expect(sleepEnded).toMatch(/^(57P01|Connection terminated unexpectedly)$/);
    expect(await exists(name)).toBe(false);
  });

  it('drops the scratch database when interrupted as pg_restore starts', async () => {
    const { config, backup } = await setUp();
    const controller = new AbortController();
    const lines: string[] = [];
    // Interrupted the moment the scratch database exists: pg_restore is stopped and the database dropped.
    const stream = new Writable({
      write(chunk, _e, cb) {
        lines.push(String(chunk));
        if (String(chunk).includes('create database')) controller.abort();
        cb();
      },
    }) as unknown as NodeJS.WriteStream;
    const log = createLogger({ command: 'test', logDir: false, interactive: false, stream });
    await expect(
      withRehearsal(config, log, backup, async () => 'never', { signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'interrupted' });
    expect(lines.join('')).toMatch(/✖ rehearsal: pg_restore → .*interrupted/);
    expect(lines.join('')).toMatch(/✔ rehearsal: drop /);
    const { rows } = await withAdminClient((c) =>
      c.query('select datname from pg_database where starts_with(datname, $1)', [`${db().name}_`]),
    );
    expect(rows).toEqual([]);
  });
});
