import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { countRows, listTables } from '../../lib/backup/run.ts';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { runUpkit, sampleArgv } from '../support/cli.ts';
import { backupTests, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';
import { until } from '../support/wait.ts';

const BACKUP = 'scripts/backup.ts';

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

describe('backup', () => {
  const db = useFreshDatabase();

  const withDb = <T>(fn: (c: pg.Client) => Promise<T>) => withClientAt(db().url, fn);

  it('writes a verified archive and manifest with modes 0600 in a 0700 directory', backupTests(), async () => {
    await asRelease(db(), 'v2.3');
    const dir = path.join(tempDir('upkit-bk-'), 'nested', 'backups');
    const r = await runUpkit(BACKUP, ['--json', '--backup-dir', dir], { env: { DATABASE_URL: db().url } });
    expect(r.code, r.stderr).toBe(0);
    const report = r.json() as { backup: { path: string; bytes: number; sha256: string }; release: { from: string } };
    expect(path.basename(report.backup.path)).toMatch(new RegExp(`^${db().database}-v2\\.3-\\d{8}T\\d{6}Z\\.dump$`));
    expect(report.release.from).toBe('v2.3');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(report.backup.path).mode & 0o777).toBe(0o600);
    expect(statSync(`${report.backup.path}.json`).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual([
      path.basename(report.backup.path),
      `${path.basename(report.backup.path)}.json`,
    ]);
    const manifest = JSON.parse(readFileSync(`${report.backup.path}.json`, 'utf8'));
    expect(manifest).toMatchObject({
      format: 'upkit-backup',
      version: 1,
      database: db().database,
      release: 'v2.3',
      bytes: report.backup.bytes,
      sha256: report.backup.sha256,
      compression: 1,
    });
    expect(manifest.verified.pgRestoreList).toBe(true);
    await withDb(async (c) => {
      expect(manifest.tables).toEqual(await countRows(c, await listTables(c)));
      expect(manifest.fingerprint).toEqual(await schemaFingerprint(c));
    });
    expect(manifest.tables['public.users']).toBe(40);
    expect(manifest.tables['drizzle.__drizzle_migrations']).toBe(4);
    expect(r.stderr).toContain(`restore with: npx zx scripts/restore.ts ${report.backup.path}`);
  });

  it('never shows the password in any process argument, output, log or manifest', backupTests(), async () => {
    const sentinel = 'S3ntinel p@ss:/%# word';
    const role = `upkit_bk_${process.pid}`;
    await withAdminClient((c) => c.query(`create role ${role} login superuser password '${sentinel}'`));
    try {
      await asRelease(db(), 'v1.2');
      const dir = tempDir('upkit-bk-');
      const url = `postgres://${role}:${encodeURIComponent(sentinel)}@${db().host}:${db().port}/${db().database}`;
      const { result: r, commandLines } = await sampleArgv(
        () => runUpkit(BACKUP, ['--json', '--backup-dir', dir], { env: { DATABASE_URL: url } }),
        2,
      );
      expect(r.code, r.stderr).toBe(0);
      expect([...commandLines].some((l) => l.includes('pg_dump') && l.includes('--format=custom'))).toBe(true);
      const manifests = readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => readFileSync(path.join(dir, f), 'utf8'));
      for (const text of [...commandLines, r.stdout, r.stderr, r.logs(), ...manifests]) {
        expect(text).not.toContain(sentinel);
        expect(text).not.toContain(encodeURIComponent(sentinel));
      }
    } finally {
      await withAdminClient((c) => c.query(`drop role if exists ${role}`));
    }
  });

  it('refuses with exit 3, naming the package, when no pg_dump fits; no file is written', async () => {
    const dir = tempDir('upkit-bk-');
    const r = await runUpkit(BACKUP, ['--backup-dir', dir], {
      env: { DATABASE_URL: db().url, UPKIT_PG_BINDIR: tempDir('upkit-nobin-') },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/✖ no pg_dump of PostgreSQL \d+ or newer to back up with \(none found\)/);
    expect(r.stderr).toMatch(/→ install one: apt-get install postgresql-client-\d+/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps the newest BACKUP_KEEP verified backups and never touches other files', backupTests(), async () => {
    await asRelease(db(), 'v1.0');
    const dir = tempDir('upkit-bk-');
    writeFileSync(path.join(dir, `${db().database}-v0.9-20200101T000000Z.dump`), 'not verified: no manifest');
    writeFileSync(path.join(dir, 'other-v1.0-20200101T000000Z.dump'), 'another database');
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runUpkit(BACKUP, ['--json', '--backup-dir', dir], {
        env: { DATABASE_URL: db().url, BACKUP_KEEP: '2' },
      });
      expect(r.code, r.stderr).toBe(0);
      made.push(path.basename(r.json<{ backup: { path: string } }>().backup.path));
    }
    const left = readdirSync(dir)
      .filter((f) => f.endsWith('.dump'))
      .sort();
    expect(left).toEqual(
      [`${db().database}-v0.9-20200101T000000Z.dump`, made[1], made[2], 'other-v1.0-20200101T000000Z.dump'].sort(),
    );
  });

  it('a failed backup leaves the only verified backup in place', backupTests(), async () => {
    const dir = tempDir('upkit-bk-');
    const ok = await runUpkit(BACKUP, ['--json', '--backup-dir', dir], {
      env: { DATABASE_URL: db().url, BACKUP_KEEP: '1' },
    });
    expect(ok.code).toBe(0);
    const before = readdirSync(dir).sort();
    const failed = await runUpkit(BACKUP, ['--backup-dir', dir], {
      env: { DATABASE_URL: db().url, BACKUP_KEEP: '1', UPKIT_PG_BINDIR: tempDir('upkit-nobin-') },
    });
    expect(failed.code).toBe(3);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  /** Holds an exclusive lock on users until release(): pg_dump waits for it with its file open. */
  async function lockUsers(): Promise<{ release(): Promise<void> }> {
    const locker = new pg.Client({ connectionString: db().url });
    await locker.connect();
    await locker.query('begin');
    await locker.query('lock table users in access exclusive mode');
    return {
      async release() {
        await locker.query('rollback').catch(() => {});
        await locker.end();
      },
    };
  }

  it('stops on Ctrl-C with exit 130 and removes the partial file', backupTests(), async () => {
    await asRelease(db(), 'v1.0');
    const dir = tempDir('upkit-bk-');
    let pid = 0;
    const lock = await lockUsers();
    try {
      const running = runUpkit(BACKUP, ['--backup-dir', dir], {
        env: { DATABASE_URL: db().url },
        onSpawn: (p) => (pid = p),
      });
      // pg_dump now waits for the table lock, its partial file already open.
      await until(() => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.partial')));
      process.kill(pid, 'SIGINT');
      const r = await running;
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toContain('SIGINT received');
    } finally {
      await lock.release();
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'a disk that fills during the dump ends in exit 3 with the partial file gone (needs root to mount a tmpfs)',
    backupTests(),
    async () => {
      await asRelease(db(), 'v1.0');
      await withDb(async (c) => {
        // Incompressible data, so the archive is bigger than what is left on the disk.
        await c.query(
          `create table blobs as select i, decode(string_agg(md5(i::text || j::text), ''), ` +
            `'hex') as b from generate_series(1, 200) i, generate_series(1, 256) j group by i`,
        );
      });
      const mount = tempDir('upkit-tmpfs-');
      const { execFileSync } = await import('node:child_process');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m,mode=0755', 'tmpfs', mount]);
      try {
        const dir = path.join(mount, 'backups');
        mkdirSync(dir, { mode: 0o700 });
        const lock = await lockUsers();
        let running: ReturnType<typeof runUpkit> | undefined;
        try {
          running = runUpkit(BACKUP, ['--backup-dir', dir], { env: { DATABASE_URL: db().url } });
          await until(() => readdirSync(dir).some((f) => f.endsWith('.partial')));
          // Another program takes the rest of the disk while pg_dump waits for its lock.
          const filler = path.join(mount, 'filler');
          try {
            for (;;) writeFileSync(filler, Buffer.alloc(1 << 20), { flag: 'a' });
          } catch {
            // ENOSPC: the disk is full now
          }
          chmodSync(filler, 0o600);
        } finally {
          await lock.release();
        }
        const r = await running;
        expect(r.code, r.stderr).toBe(3);
        expect(r.stderr).toContain('filled up while writing the backup; the partial file was removed');
        expect(readdirSync(dir)).toEqual([]);
      } finally {
        execFileSync('umount', [mount]);
      }
    },
  );
});
