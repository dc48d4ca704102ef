// The backup's format follows the database's shape: several large tables take pg_dump's
// directory format with parallel jobs. Such a backup must restore (in place and --into) and
// be kept and pruned by retention like a file (failures-backupspeed.test.ts: a changed
// folder refused by restore, a killed run's partial folder swept only when provably upkit's).
// The size from which a table counts as large is lowered (UPKIT_BACKUP_LARGE_TABLE_BYTES)
// so that the small v2.3 fixture has several.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveSha256, listSha256, sha256File } from '../../lib/backup/archive.ts';
import { chooseFormat } from '../../lib/backup/shape.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, useFreshDatabase, withAdminClient } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';
import {
  backup,
  BACKUP,
  companions,
  manifestOf,
  RESTORE,
  rows,
  SMALL_LARGE,
  tempDir,
  type Manifest,
} from '../support/backupFormat.ts';

describe('the format is chosen by the shape of the tables', () => {
  const mb = 1024 * 1024;
  it('one dominant table or a small database: one custom-format file', () => {
    expect(
      chooseFormat(
        [
          { name: 'public.a', bytes: 900 * mb },
          { name: 'public.b', bytes: 1 * mb },
        ],
        { localPgDump: true, cores: 2, largeBytes: 64 * mb },
      ),
    ).toMatchObject({ format: 'custom', jobs: 1 });
    expect(
      chooseFormat(
        [
          { name: 'public.a', bytes: 10 * mb },
          { name: 'public.b', bytes: 10 * mb },
        ],
        { localPgDump: true, cores: 2, largeBytes: 64 * mb },
      ),
    ).toMatchObject({ format: 'custom', jobs: 1 });
    expect(chooseFormat([], { localPgDump: true, cores: 2, largeBytes: 64 * mb })).toMatchObject({
      format: 'custom',
      jobs: 1,
    });
  });

  it(
    'several large tables: the directory format, as many jobs as ' +
      'cores and large tables allow; never with pg_dump in a container',
    () => {
      const tables = [100, 90, 80, 70].map((n, i) => ({ name: `public.t${i}`, bytes: n * mb }));
      expect(chooseFormat(tables, { localPgDump: true, cores: 2, largeBytes: 64 * mb })).toMatchObject({
        format: 'directory',
        jobs: 2,
      });
      expect(chooseFormat(tables, { localPgDump: true, cores: 8, largeBytes: 64 * mb })).toMatchObject({
        format: 'directory',
        jobs: 4,
      });
      expect(chooseFormat(tables, { localPgDump: true, cores: 1, largeBytes: 64 * mb })).toMatchObject({
        format: 'custom',
        jobs: 1,
      });
      expect(chooseFormat(tables, { localPgDump: false, cores: 2, largeBytes: 64 * mb })).toMatchObject({
        format: 'custom',
        jobs: 1,
        why: expect.stringContaining('container'),
      });
    },
  );
});

describe('directory-format backups', backupTests(), () => {
  const db = useFreshDatabase();
  afterEach(async () => {
    for (const name of await companions(db()))
      await withAdminClient((c) => c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`));
  });

  it('takes the directory format with jobs, says why, and records each file and a sha256 over the list', async () => {
    await asRelease(db(), 'v2.3');
    const dir = tempDir('upkit-bkdir-');
    const { r, path: archive } = await backup(db(), dir);
    expect(r.stderr).toMatch(/backup as directory format, 2 parallel jobs \(\d+ tables of 8\.0 KB or more/);
    expect(path.basename(archive)).toMatch(new RegExp(`^${db().database}-v2\\.3-\\d{8}T\\d{6}Z\\.dump$`));
    expect(statSync(archive).isDirectory()).toBe(true);
    expect(statSync(archive).mode & 0o777).toBe(0o700);
    const m = manifestOf(archive);
    expect(m).toMatchObject({ archive: 'directory', jobs: 2, file: path.basename(archive) });
    const names = readdirSync(archive).sort();
    expect(names).toContain('toc.dat');
    expect(m.files!.map((f) => f.name).sort()).toEqual(names);
    for (const f of m.files!) {
      const file = path.join(archive, f.name);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(f.bytes).toBe(statSync(file).size);
      expect(f.sha256).toBe(await sha256File(file));
    }
    expect(m.sha256).toBe(listSha256(m.files!));
    expect(await archiveSha256(archive)).toBe(m.sha256);
    expect(m.bytes).toBe(m.files!.reduce((s, f) => s + f.bytes, 0));
    expect(m.tables['public.users']).toBe(40);
    // Nothing but the folder and its manifest: no partial left.
    expect(readdirSync(dir).sort()).toEqual([path.basename(archive), `${path.basename(archive)}.json`]);
  });

  it(
    'without the lowered size the same database takes one custom-format file, ' +
      'which restores also from a manifest without the format',
    async () => {
      await asRelease(db(), 'v2.3');
      const { r, path: archive } = await backup(db(), tempDir('upkit-bkdir-'), {});
      expect(r.stderr).toContain('backup as custom format, one file (no table of 64.0 MB or more');
      expect(statSync(archive).isFile()).toBe(true);
      expect(manifestOf(archive).archive).toBe('custom');
      expect(await archiveSha256(archive)).toBe(manifestOf(archive).sha256);

      // A manifest written before upkit recorded the format (no `archive`) still restores.
      const older = manifestOf(archive) as Partial<Manifest>;
      delete older.archive;
      writeFileSync(`${archive}.json`, JSON.stringify(older, null, 2));
      const into = `${db().name}_copy`;
      const r2 = await runUpkit(RESTORE, [archive, '--into', into, '--yes'], { env: { DATABASE_URL: db().url } });
      expect(r2.code, r2.stderr).toBe(0);
      expect(await rows(into)).toEqual(await rows(db().name));
    },
  );

  it('restores a directory backup --into a new database and in place, rows equal to the backup', async () => {
    await asRelease(db(), 'v2.3');
    const { path: archive } = await backup(db(), tempDir('upkit-bkdir-'));
    const atBackup = await rows(db().name);
    const into = `${db().name}_copy`;
    const r1 = await runUpkit(RESTORE, [archive, '--into', into, '--yes', '--json'], {
      env: { DATABASE_URL: db().url },
    });
    expect(r1.code, r1.stderr).toBe(0);
    expect(await rows(into)).toEqual(atBackup);

    await withAdminClient((c) => c.query(`update organizations set name = 'changed after the backup'`), db().database);
    const r2 = await runUpkit(RESTORE, [archive, '--yes', '--json'], { env: { DATABASE_URL: db().url } });
    expect(r2.code, r2.stderr).toBe(0);
    expect(await rows(db().name)).toEqual(atBackup);
  });

  it(
    'Ctrl-C while pg_dump waits for a lock: exit 130, ' +
      'the partial folder removed; a locked table is sized from the catalog',
    async () => {
      await asRelease(db(), 'v2.3');
      await withAdminClient((c) => c.query('vacuum analyze'), db().database);
      const dir = tempDir('upkit-bkdir-');
      const locker = new pg.Client({ connectionString: db().url });
      await locker.connect();
      let pid = 0;
      try {
        await locker.query('begin');
        await locker.query('lock table users in access exclusive mode');
        const running = runUpkit(BACKUP, ['--backup-dir', dir], {
          env: { DATABASE_URL: db().url, ...SMALL_LARGE },
          onSpawn: (p) => (pid = p),
        });
        // pg_dump now waits for the table lock, its partial folder already made.
        const t0 = Date.now();
        while (!(existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.partial')))) {
          if (Date.now() - t0 > 30_000) throw new Error('no partial folder appeared');
          await new Promise((r) => setTimeout(r, 10));
        }
        const partial = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.partial'))!);
        expect(statSync(partial).isDirectory()).toBe(true);
        process.kill(pid, 'SIGINT');
        const r = await running;
        expect(r.code, r.stderr).toBe(130);
        expect(r.stderr).toMatch(/backup as directory format, 2 parallel jobs/);
      } finally {
        await locker.query('rollback').catch(() => {});
        await locker.end();
      }
      expect(readdirSync(dir)).toEqual([]);
    },
  );

  it(
    'retention keeps the newest BACKUP_KEEP and removes older folders, ' +
      "but never one that holds a file that is not pg_dump's",
    async () => {
      await asRelease(db(), 'v2.3');
      const dir = tempDir('upkit-bkdir-');
      const first = await backup(db(), dir, { ...SMALL_LARGE, BACKUP_KEEP: '1' });
      await new Promise((r) => setTimeout(r, 1100)); // a new UTC second: a new name
      const second = await backup(db(), dir, { ...SMALL_LARGE, BACKUP_KEEP: '1' });
      expect(second.r.stderr).toContain(`removed old backup ${path.basename(first.path)} (BACKUP_KEEP=1)`);
      expect(existsSync(first.path)).toBe(false);
      expect(existsSync(`${first.path}.json`)).toBe(false);
      expect(readdirSync(dir).sort()).toEqual([path.basename(second.path), `${path.basename(second.path)}.json`]);

      // An operator's note inside the folder: the folder is not upkit's alone and stays, whole.
      writeFileSync(path.join(second.path, 'NOTES.txt'), 'kept by hand');
      const before = readdirSync(second.path).sort();
      await new Promise((r) => setTimeout(r, 1100));
      const third = await backup(db(), dir, { ...SMALL_LARGE, BACKUP_KEEP: '1' });
      expect(third.r.stderr).not.toContain(`removed old backup ${path.basename(second.path)}`);
      expect(readdirSync(second.path).sort()).toEqual(before);
      expect(existsSync(`${second.path}.json`)).toBe(true);
    },
  );
});
