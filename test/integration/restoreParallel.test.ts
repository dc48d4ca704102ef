// pg_restore with parallel jobs: each table whose name is its own is counted as soon as
// pg_restore has committed its data, the others (a name two schemas share) at the end, and
// both kinds of count are compared with the manifest; a wrong count of either kind stops
// the restore. The number of jobs follows the archive and the cores.
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_JOBS, restoreJobs } from '../../lib/backup/restoreJobs.ts';
import { takeBackup, type BackupResult } from '../../lib/backup/run.ts';
import { checkBackup } from '../../lib/backup/restoreCheck.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { runUpkit } from '../support/cli.ts';
import {
  backupTests,
  useFreshDatabase,
  withAdminClient,
  withClientAt,
  type TestDatabase,
} from '../support/database.ts';
import { rowSnapshot } from '../support/rows.ts';
import { companions } from '../support/backupFormat.ts';

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

/** Three tables: `public.items` and `archive.items` share a name, `public.lookup` has its own. */
async function threeTables(db: TestDatabase): Promise<BackupResult> {
  await withClientAt(db.url, async (c) => {
    await c.query('create schema archive');
    await c.query('create table lookup (id int primary key)');
    await c.query('insert into lookup select generate_series(1, 7)');
    await c.query('create table items (id int primary key, label text not null)');
    await c.query(`insert into items select g, 'item ' || g from generate_series(1, 3000) g`);
    await c.query('create table archive.items (id int primary key)');
    await c.query('insert into archive.items select generate_series(1, 40)');
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-restore-jobs-'));
  return takeBackup(loadConfig({ env: { DATABASE_URL: db.url }, cwd: dir }), quiet(), {
    backupDir: dir,
    keep: 5,
    upkitVersion: 'test',
  });
}

/** The archive beside a manifest whose count of `table` is one more. */
function withCountOff(backup: BackupResult, table: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-restore-off-'));
  const file = path.join(dir, path.basename(backup.path));
  copyFileSync(backup.path, file);
  writeFileSync(
    `${file}.json`,
    JSON.stringify({
      ...backup.manifest,
      tables: { ...backup.manifest.tables, [table]: backup.manifest.tables[table]! + 1 },
    }),
  );
  return file;
}

describe('restore with parallel jobs', backupTests(), () => {
  const db = useFreshDatabase();

  it(
    'counts a table of its own name while pg_restore runs, ' + 'a shared name at the end, and restores every row',
    async () => {
      const backup = await threeTables(db());
      expect(backup.manifest.tables).toEqual({ 'archive.items': 40, 'public.items': 3000, 'public.lookup': 7 });
      const into = `${db().name}_copy`;
      const r = await runUpkit('scripts/restore.ts', [backup.path, '--into', into, '--yes'], {
        env: { DATABASE_URL: db().url },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`✔ pg_restore → ${into} {2}\\d+ entries in .*, \\d+ jobs`));
      expect(r.stderr).toContain('✔ compare with the manifest  3 tables, 3047 rows and');
      const logs = r.logs();
      expect(logs).toContain('counted public.lookup while pg_restore ran: 7 rows');
      expect(logs).not.toMatch(/counted \S*items while pg_restore ran/);
      for (const schema of ['public', 'archive']) {
        expect(await withAdminClient((c) => rowSnapshot(c, schema), into)).toEqual(
          await withAdminClient((c) => rowSnapshot(c, schema), db().database),
        );
      }
      await withAdminClient((c) => c.query(`drop database ${c.escapeIdentifier(into)}`));
    },
  );

  for (const table of ['public.lookup', 'archive.items']) {
    it(
      `in place, a wrong count of ${table} (` +
        `${table === 'public.lookup' ? 'taken while pg_restore runs' : 'taken at the end'}) ` +
        `stops the restore: exit 3, the copy dropped`,
      async () => {
        const backup = await threeTables(db());
        const live = await withAdminClient((c) => rowSnapshot(c, 'public'), db().database);
        const r = await runUpkit('scripts/restore.ts', [withCountOff(backup, table), '--yes'], {
          env: { DATABASE_URL: db().url },
        });
        expect(r.code, r.stderr).toBe(3);
        expect(r.stderr).toContain(
          `    table ${table}: ${backup.manifest.tables[table]} rows, ` +
            `the backup has ${backup.manifest.tables[table]! + 1}`,
        );
        expect(r.stderr).toMatch(/→ \S+_restore_\S+ was dropped; \S+ was not changed/);
        expect(await companions(db())).toEqual([]);
        expect(await withAdminClient((c) => rowSnapshot(c, 'public'), db().database)).toEqual(live);
      },
    );
  }

  it(
    "gives the new database the live one's connection limit after pg_restore, " +
      'whose jobs need more sessions than a small limit allows',
    async () => {
      const backup = await threeTables(db());
      const role = `upkit_limited_${process.pid}`;
      const password = 'limited pw';
      await withAdminClient(async (c) => {
        await c.query(`create role ${role} login createdb password '${password}'`);
        await c.query(`alter database ${c.escapeIdentifier(db().name)} owner to ${role}`);
        // Not a superuser: the limit applies to this role's sessions.
        await c.query(`alter database ${c.escapeIdentifier(db().name)} connection limit 1`);
      });
      const into = `${db().name}_copy`;
      try {
        const url = `postgres://${role}:${encodeURIComponent(password)}@${db().host}:${db().port}/${db().name}`;
        const r = await runUpkit('scripts/restore.ts', [backup.path, '--into', into, '--yes', '--no-owner'], {
          env: { DATABASE_URL: url },
        });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toMatch(new RegExp(`✔ pg_restore → ${into} {2}\\d+ entries in .*, \\d+ jobs`));
        expect(r.stderr).toContain(`owner ${role}, 0 settings, default grants, connection limit 1`);
        const { rows } = await withAdminClient((c) =>
          c.query<{ owner: string; limit: number }>(
            'select pg_get_userbyid(datdba) as owner, datconnlimit as limit from pg_database where datname = $1',
            [into],
          ),
        );
        expect(rows).toEqual([{ owner: role, limit: 1 }]);
        expect(await withAdminClient((c) => rowSnapshot(c, 'public'), into)).toEqual(
          await withAdminClient((c) => rowSnapshot(c, 'public'), db().database),
        );
      } finally {
        await withAdminClient(async (c) => {
          await c.query(`drop database if exists ${c.escapeIdentifier(into)} with (force)`);
          await c.query(`alter database ${c.escapeIdentifier(db().name)} owner to current_user`);
          await c.query(`drop role if exists ${role}`);
        });
      }
    },
  );

  it('chooses jobs by the archive and the cores: at least 2, at most the tables, the cores and MAX_JOBS', async () => {
    const backup = await threeTables(db());
    const checked = await checkBackup(
      loadConfig({ env: { DATABASE_URL: db().url }, cwd: path.dirname(backup.path) }),
      backup.path,
    );
    expect(checked.restorer.kind).toBe('local');
    expect(restoreJobs(checked, 1)).toBe(2);
    expect(restoreJobs(checked, 2)).toBe(2);
    expect(restoreJobs(checked, 64)).toBe(3);
    const many = {
      ...checked,
      manifest: {
        ...checked.manifest,
        tables: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`public.t${i}`, 0])),
      },
    };
    expect(restoreJobs(many, 64)).toBe(MAX_JOBS);
    // A compose restorer reads the archive on stdin: one transaction.
    expect(
      restoreJobs(
        {
          ...checked,
          restorer: {
            kind: 'compose',
            cli: { command: 'docker', baseArgs: ['compose'], version: '2.29.0' },
            composeFile: 'compose.yaml',
            service: 'db',
            version: '15',
            major: 15,
            why: '',
          },
        },
        64,
      ),
    ).toBe(0);
    // A path that is neither a file nor a directory cannot be read in parallel.
    expect(restoreJobs({ ...checked, path: path.join(path.dirname(backup.path), 'gone.dump') }, 64)).toBe(0);
  });
});
