// The swap as a role that owns the database but is not a superuser, as many installs run:
// it restores in place; a session it may not end refuses the swap before anything is
// touched, before the copy is made; and a swap that fails half-way is undone and says where things stand.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { swapDatabases } from '../../lib/backup/swap.ts';
import { takeBackup, type BackupResult } from '../../lib/backup/run.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, useFreshDatabase, withAdminClient, type TestDatabase } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

const OWNER = `upkit_swap_owner_${process.pid}`;
const PASSWORD = 'swap-owner-pw';
const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

async function databases(db: TestDatabase): Promise<Array<{ datname: string; datallowconn: boolean }>> {
  const { rows } = await withAdminClient((c) =>
    c.query('select datname, datallowconn from pg_database where starts_with(datname, $1) order by 1', [db.name]),
  );
  return rows;
}

const ownerUrl = (db: TestDatabase) => `postgres://${OWNER}:${PASSWORD}@${db.host}:${db.port}/${db.database}`;

/** A v2.3 database owned by a CREATEDB role that is not a superuser, and a backup of it. */
async function ownedBackup(db: TestDatabase): Promise<BackupResult> {
  await asRelease(db, 'v2.3');
  await withAdminClient(async (c) => {
    await c.query(`create role ${OWNER} login createdb password '${PASSWORD}'`);
    await c.query(`alter database ${c.escapeIdentifier(db.name)} owner to ${OWNER}`);
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-swap-'));
  return takeBackup(loadConfig({ env: { DATABASE_URL: db.url }, cwd: dir }), quiet(), {
    backupDir: dir,
    keep: 5,
    upkitVersion: 'test',
  });
}

/** A superuser's session on the database: a DBA's psql left open. */
async function superuserSession(db: TestDatabase): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url, application_name: 'dba psql' });
  c.on('error', () => {});
  await c.connect();
  return c;
}

describe('swap as the database owner', backupTests(), () => {
  const db = useFreshDatabase();
  afterEach(async () => {
    // The role owns the databases (and, after a --no-owner restore, what is in them): they go first.
    for (const { datname } of await databases(db()))
      await withAdminClient((c) => c.query(`drop database if exists ${c.escapeIdentifier(datname)} with (force)`));
    await withAdminClient((c) => c.query(`drop role if exists ${OWNER}`));
  });

  it('restores in place with --no-owner', async () => {
    const backup = await ownedBackup(db());
    await withAdminClient((c) => c.query('delete from audit_logs'), db().database);
    const r = await runUpkit('scripts/restore.ts', [backup.path, '--yes', '--no-owner'], {
      env: { DATABASE_URL: ownerUrl(db()) },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/swap window \d+ ms, 0 sessions of \S+ ended/);
    const audit = await withAdminClient((c) => rowSnapshot(c), db().database);
    expect(audit.get('audit_logs')?.size).toBe(backup.manifest.tables['public.audit_logs']);
    expect((await databases(db())).map((d) => d.datname)).toEqual([
      db().name,
      expect.stringMatching(/_before_restore_/),
    ]);
  });

  it(
    'refuses before the copy is made when a session it may not ' +
      'end is connected: exit 3, nothing created, live untouched',
    async () => {
      const backup = await ownedBackup(db());
      const dba = await superuserSession(db());
      try {
        const r = await runUpkit('scripts/restore.ts', [backup.path, '--yes', '--no-owner', '--json'], {
          env: { DATABASE_URL: ownerUrl(db()) },
        });
        expect(r.code, r.stderr).toBe(3);
        const errors = r.stderr.split('\n').filter((l) => l.includes('✖'));
        expect(errors).toEqual([
          expect.stringMatching(
            new RegExp(
              `✖ check \\S+ {2}the swap would have to end sessions of ${db().name}` +
                ` this role may not end: pid \\d+ \\(${db().user}, dba psql\\)`,
            ),
          ),
        ]);
        expect(r.stderr).toContain('→ ask them to disconnect, or run the restore as a superuser; nothing was changed');
        expect(r.json().findings).toEqual([expect.objectContaining({ code: 'restore.sessions_beyond_reach' })]);
        expect(await databases(db())).toEqual([{ datname: db().name, datallowconn: true }]);
        await dba.query('select 1');
      } finally {
        await dba.end().catch(() => {});
      }
    },
  );

  it('undoes a swap that fails half-way and says where things stand: exit 1', async () => {
    await ownedBackup(db());
    const restored = `${db().name}_restore_x`;
    const previous = `${db().name}_before_restore_x`;
    await withAdminClient((c) => c.query(`create database ${c.escapeIdentifier(restored)} owner ${OWNER}`));
    const dba = await superuserSession(db());
    try {
      const config = loadConfig({ env: { DATABASE_URL: ownerUrl(db()) }, cwd: tmpdir() });
      const failed = await swapDatabases(config, { live: db().name, restored, previous }).catch((err: unknown) => err);
      expect(failed).toMatchObject({
        code: 'restore.swap_failed',
        exit: 'failed',
        message: expect.stringContaining(
          `nothing was renamed; ${db().name} is the database it was and accepts connections ` +
            `again (its sessions may have been ended). The restored copy is kept as ${restored}`,
        ),
      });
      expect(await databases(db())).toEqual([
        { datname: db().name, datallowconn: true },
        { datname: restored, datallowconn: true },
      ]);
      await dba.query('select 1');
    } finally {
      await dba.end().catch(() => {});
    }
  });
});
