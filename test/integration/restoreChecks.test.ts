// A backup is checked before anything is created: a cut-short archive, a changed byte, a
// missing manifest and an archive pg_restore cannot read are each refused with one line
// saying why, exit 3, and no database is created.
import { copyFileSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { takeBackup, type BackupResult } from '../../lib/backup/run.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, freshDatabase, withAdminClient, type TestDatabase } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

/** The test database and any made from it (test files share the server, so only these count). */
async function databases(prefix: string): Promise<string[]> {
  const { rows } = await withAdminClient((c) =>
    c.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1) order by 1', [prefix]),
  );
  return rows.map((r) => r.datname);
}

/** A copy of the backup (and, unless told otherwise, its manifest) in a directory of its own, to spoil. */
function copyOf(backup: BackupResult, withManifest = true): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-spoilt-'));
  const file = path.join(dir, path.basename(backup.path));
  copyFileSync(backup.path, file);
  if (withManifest) copyFileSync(backup.manifestPath, `${file}.json`);
  return file;
}

/** A fresh database at v2.3 with data, and one verified backup of it. */
async function backedUpDatabase(): Promise<{ db: TestDatabase; backup: BackupResult }> {
  const db = await freshDatabase();
  await asRelease(db, 'v2.3');
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-restore-'));
  const backup = await takeBackup(loadConfig({ env: { DATABASE_URL: db.url }, cwd: dir }), quiet(), {
    backupDir: dir,
    keep: 5,
    upkitVersion: 'test',
  });
  return { db, backup };
}

describe('restore refuses a backup it cannot trust', backupTests(), () => {
  let db: TestDatabase;
  let backup: BackupResult;
  // One backup for every case: each only spoils a copy of it, and none may change the database.
  beforeAll(async () => {
    ({ db, backup } = await backedUpDatabase());
    return () => db.drop();
  });

  async function refused(file: string): Promise<{ line: string; code: string; stderr: string }> {
    const before = await databases(db.name);
    const r = await runUpkit('scripts/restore.ts', [file, '--yes', '--json'], { env: { DATABASE_URL: db.url } });
    expect(r.code, r.stderr).toBe(3);
    const lines = r.stderr.split('\n').filter((l) => l.includes('✖'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(await databases(db.name)).toEqual(before);
    expect(before).toEqual([db.name]);
    const report = r.json();
    expect(report).toMatchObject({ status: 'refused', exitCode: 3, backup: null });
    return { line: lines[0]!, code: report.findings[0]!.code, stderr: r.stderr };
  }

  it('a truncated archive, naming both sizes', async () => {
    const file = copyOf(backup);
    truncateSync(file, backup.manifest.bytes - 100);
    const r = await refused(file);
    expect(r.line).toContain(`backup ${file} is ${backup.manifest.bytes - 100} bytes`);
    expect(r.line).toMatch(
      new RegExp(`but its manifest says ${backup.manifest.bytes} \\(.*\\): truncated or replaced`),
    );
    expect(r.code).toBe('restore.size_mismatch');
  });

  it('an archive with one byte flipped (same size, other sha256)', async () => {
    const file = copyOf(backup);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(file, bytes);
    const r = await refused(file);
    expect(r.line).toContain(`backup ${file} has sha256 `);
    expect(r.line).toContain(`its manifest says ${backup.manifest.sha256}: the file was changed or damaged`);
    expect(r.code).toBe('restore.sha256_mismatch');
  });

  it('an archive without its manifest', async () => {
    const file = copyOf(backup, false);
    const r = await refused(file);
    expect(r.line).toContain(
      `backup manifest ${file}.json is missing: without it the backup cannot be checked before it is restored`,
    );
    expect(r.code).toBe('backup.manifest');
  });

  it('an archive pg_restore cannot read, even with a manifest that matches it', async () => {
    const file = copyOf(backup);
    const junk = Buffer.alloc(4096, 7);
    writeFileSync(file, junk);
    const manifest = {
      ...backup.manifest,
      bytes: junk.length,
      sha256: createHash('sha256').update(junk).digest('hex'),
    };
    writeFileSync(`${file}.json`, JSON.stringify(manifest));
    const r = await refused(file);
    expect(r.line).toContain(`pg_restore cannot read ${file}: `);
    expect(r.code).toBe('backup.unreadable');
  });
});

describe('restore compares the restored database with the manifest', backupTests(), () => {
  let db: TestDatabase;
  let backup: BackupResult;
  beforeAll(async () => {
    ({ db, backup } = await backedUpDatabase());
    return async () => {
      for (const name of await databases(`${db.name}_`))
        await withAdminClient((c) => c.query(`drop database ${c.escapeIdentifier(name)} with (force)`));
      await db.drop();
    };
  });

  /** The archive as it is, beside a manifest that counted one user more and knew one more index. */
  function withWrongManifest(): string {
    const file = copyOf(backup, false);
    const users = backup.manifest.tables['public.users']!;
    const manifest = {
      ...backup.manifest,
      tables: { ...backup.manifest.tables, 'public.users': users + 1 },
      fingerprint: [
        ...backup.manifest.fingerprint,
        'index users.users_imaginary_idx CREATE INDEX users_imaginary_idx USING btree (id)',
      ],
    };
    writeFileSync(`${file}.json`, JSON.stringify(manifest));
    return file;
  }

  it('--into: exit 3, says which table and schema lines differ, keeps the database for inspection', async () => {
    const into = `${db.name}_inspect`;
    const r = await runUpkit('scripts/restore.ts', [withWrongManifest(), '--into', into, '--yes'], {
      env: { DATABASE_URL: db.url },
    });
    expect(r.code, r.stderr).toBe(3);
    const users = backup.manifest.tables['public.users']!;
    expect(r.stderr.split('\n').filter((l) => l.includes('✖'))).toEqual([
      expect.stringContaining(
        `✖ compare with the manifest  the restored database ${into} differs from the backup's manifest in 2 places`,
      ),
    ]);
    expect(r.stderr).toContain(`    table public.users: ${users} rows, the backup has ${users + 1}`);
    expect(r.stderr).toContain(
      '    schema: missing index users.users_imaginary_idx CREATE INDEX users_imaginary_idx USING btree (id)',
    );
    expect(r.stderr).toContain(`→ ${into} is kept for inspection; drop it when done. ${db.name} was not changed`);
    expect(await databases(`${db.name}_`)).toEqual([into]);
  });

  it('in place: exit 3, the restored copy is dropped and the live database untouched', async () => {
    const before = await withAdminClient((c) => c.query('select count(*)::int as n from audit_logs'), db.database);
    const r = await runUpkit('scripts/restore.ts', [withWrongManifest(), '--yes'], { env: { DATABASE_URL: db.url } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/→ \S+_restore_\S+ was dropped; \S+ was not changed/);
    expect((await databases(`${db.name}_`)).filter((n) => !n.endsWith('_inspect'))).toEqual([]);
    expect(
      await withAdminClient((c) => c.query('select count(*)::int as n from audit_logs'), db.database),
    ).toMatchObject({ rows: before.rows });
  });
});
