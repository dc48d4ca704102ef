// Catalogue cases (test/failures/catalogue.ts, docs/FAILURES.md): restore and rollback. A
// backup is checked before anything is created: each refusal is one line, exit 3 (2 for the
// missing terminal), no database is created and the live one is untouched.
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { takeBackup, type BackupResult } from '../../lib/backup/run.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { backupTests, freshDatabase, useFreshDatabase, withAdminClient } from '../support/database.ts';
import { asRelease, releaseDatabase } from '../support/releases.ts';

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

/** Databases whose names start with the prefix (test files share the server). */
async function databases(prefix: string): Promise<string[]> {
  const { rows } = await withAdminClient((c) =>
    c.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1) order by 1', [prefix]),
  );
  return rows.map((r) => r.datname);
}

// Every case spoils a copy of one real backup: skipped where no pg_dump here fits the server.
describe('failure catalogue: restore and rollback', backupTests(), () => {
  const db = useFreshDatabase();
  let backup: BackupResult;
  // One verified backup of a v2.3 install with data; each case spoils a copy of it.
  beforeAll(async () => {
    const source = await releaseDatabase('v2.3');
    try {
      const dir = tempDir('upkit-case-restore-');
      backup = await takeBackup(loadConfig({ env: { DATABASE_URL: source.url }, cwd: dir }), quiet(), {
        backupDir: dir,
        keep: 5,
        upkitVersion: 'test',
      });
    } finally {
      await source.drop();
    }
  });

  function copyOf(withManifest = true): string {
    const file = path.join(tempDir('upkit-case-spoilt-'), path.basename(backup.path));
    copyFileSync(backup.path, file);
    if (withManifest) copyFileSync(backup.manifestPath, `${file}.json`);
    return file;
  }

  /** The live database gets a v2.2 install, so that "untouched" means something. */
  async function refused(id: string, vars: Record<string, string | number>): Promise<void> {
    await asRelease(db(), 'v2.2');
    const c = failureCase(id);
    const before = await dbState(db().url);
    const others = await databases(`${db().database}_`);
    const r = await runCase(c, { url: db().url, database: db().database, ...vars });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await databases(`${db().database}_`)).toEqual(others);
  }

  it('restore.truncated', async () => {
    const file = copyOf();
    truncateSync(file, backup.manifest.bytes - 100);
    await refused('restore.truncated', { file, actual: backup.manifest.bytes - 100, bytes: backup.manifest.bytes });
  });

  it('restore.corrupt', async () => {
    const file = copyOf();
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(file, bytes);
    await refused('restore.corrupt', {
      file,
      actualSha: createHash('sha256').update(bytes).digest('hex'),
      sha: backup.manifest.sha256,
    });
  });

  it('restore.not-an-archive', async () => {
    const file = copyOf();
    const junk = Buffer.alloc(4096, 7);
    writeFileSync(file, junk);
    writeFileSync(
      `${file}.json`,
      JSON.stringify({
        ...backup.manifest,
        bytes: junk.length,
        sha256: createHash('sha256').update(junk).digest('hex'),
      }),
    );
    await refused('restore.not-an-archive', { file });
  });

  it('restore.no-manifest', async () => {
    await refused('restore.no-manifest', { file: copyOf(false) });
  });

  it('restore.no-file', async () => {
    await refused('restore.no-file', { file: path.join(tempDir(), 'pulse-v2.3-20261124T055949Z.dump') });
  });

  it('restore.into-exists', async () => {
    const taken = await freshDatabase();
    try {
      const before = await dbState(taken.url);
      await refused('restore.into-exists', { file: copyOf(), into: taken.database, host: db().host, port: db().port });
      await expectUnchanged(taken.url, before);
    } finally {
      await taken.drop();
    }
  });

  it('restore.no-terminal', async () => {
    await refused('restore.no-terminal', { file: copyOf() });
  });

  it('rollback.no-run', async () => {
    await refused('rollback.no-run', {});
  });
});
