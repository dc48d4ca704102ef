// What the tests of directory-format backups share (backup-format.test.ts and
// failures-backupspeed.test.ts): a backup taken through the command with the size from which
// a table counts as large lowered, its manifest, and the rows and databases to compare.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { runUpkit } from './cli.ts';
import { withAdminClient, type TestDatabase } from './database.ts';
import { rowSnapshot } from './rows.ts';

export const BACKUP = 'scripts/backup.ts';
export const RESTORE = 'scripts/restore.ts';
/** Every table of the v2.3 fixture with rows is at least one page. */
export const SMALL_LARGE = { UPKIT_BACKUP_LARGE_TABLE_BYTES: '8192' };

export interface Manifest {
  file: string;
  archive?: string;
  jobs?: number;
  bytes: number;
  sha256: string;
  files?: Array<{ name: string; bytes: number; sha256: string }>;
  tables: Record<string, number>;
}

export const tempDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));
export const manifestOf = (archive: string) => JSON.parse(readFileSync(`${archive}.json`, 'utf8')) as Manifest;

export async function backup(db: TestDatabase, dir: string, env: Record<string, string> = SMALL_LARGE) {
  const r = await runUpkit(BACKUP, ['--json', '--backup-dir', dir], { env: { DATABASE_URL: db.url, ...env } });
  expect(r.code, r.stderr).toBe(0);
  return { r, path: (r.json() as { backup: { path: string } }).backup.path };
}

export async function rows(database: string) {
  return withAdminClient(
    async (c) => ({ public: await rowSnapshot(c, 'public'), drizzle: await rowSnapshot(c, 'drizzle') }),
    database,
  );
}

export async function companions(db: TestDatabase): Promise<string[]> {
  const { rows: found } = await withAdminClient((c) =>
    c.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1) order by 1', [
      `${db.name}_`,
    ]),
  );
  return found.map((r) => r.datname);
}
