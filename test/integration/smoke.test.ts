// The operator's round trip in one file, by the real entry points against real PostgreSQL:
// install into a new database, upgrade a Pulse v1.0 install with data, verify both, back
// the upgraded one up and restore the backup beside it. CI runs this file on every Node
// version upkit supports (.ci/run), so it stays small and runnable alone:
//   npx vitest run --project integration test/integration/smoke.test.ts
// UPKIT_SMOKE_NODE=/path/to/node runs upkit's commands on that node while the tests run on
// this one (how the oldest supported Node 20 is checked: the test tools need a newer one).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaFingerprint } from '../../lib/schema/fingerprint.ts';
import { runUpkit, type RunOptions, type RunResult } from '../support/cli.ts';
import {
  backupArgs,
  backupTests,
  freshDatabase,
  serverInfo,
  withAdminClient,
  withClientAt,
  type TestDatabase,
} from '../support/database.ts';
import { asRelease, freshInstallFingerprint } from '../support/releases.ts';
import { flattenFlags, lostOrChanged, rowSnapshot, upgradeTransforms } from '../support/rows.ts';

const node = process.env.UPKIT_SMOKE_NODE || process.execPath;
const nodeVersion =
  node === process.execPath
    ? process.version
    : execFileSync(node, ['-p', 'process.version'], { encoding: 'utf8' }).trim();

function urlFor(database: string): string {
  const u = new URL(serverInfo().adminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

const dropDatabase = (name: string) =>
  withAdminClient((c) => c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`));

/** One upkit command on the smoke's node; it must succeed, and its log names that node. */
async function upkit(entry: string, args: string[], options: RunOptions): Promise<RunResult> {
  // Through zx and tsx, as an operator runs an entry file on that Node.
  const r = await runUpkit(entry, args, { timeoutMs: 120_000, ...options, node, via: 'zx' });
  expect(r.code, `${entry} ${args.join(' ')}\n${r.stderr}`).toBe(0);
  expect(r.logs()).toContain(`(node ${nodeVersion}, pid `);
  return r;
}

describe(`smoke on Node ${nodeVersion}`, () => {
  it('installs the latest release into a new database, and verify finds nothing wrong', async () => {
    const name = `upkit_smoke_${process.pid}_${Date.now() % 100000}`;
    try {
      const env = { DATABASE_URL: urlFor(name) };
      const r = await upkit('install.ts', [...backupArgs(), '--yes', '--no-containers', '--json'], { env });
      expect(r.stderr).toContain(`✔ database ${name}  created`);
      expect(r.json().release).toEqual({ from: null, to: 'v2.3' });
      expect(await withClientAt(urlFor(name), (c) => schemaFingerprint(c))).toEqual(await freshInstallFingerprint());
      const v = await upkit('verify/index.ts', ['--json'], { env });
      expect(v.json().findings.filter((f) => f.severity === 'error')).toEqual([]);
    } finally {
      await dropDatabase(name);
    }
  });

  // The three steps below share one database, in order: the upgraded install is what is backed up.
  describe('a Pulse v1.0 install with data', () => {
    let db: TestDatabase;
    const copies: string[] = [];
    beforeAll(async () => {
      db = await freshDatabase();
    });
    afterAll(async () => {
      for (const name of copies) await dropDatabase(name);
      await db?.drop();
    });

    it('upgrades to the latest release keeping every row, and verify finds nothing wrong', async () => {
      await asRelease(db, 'v1.0');
      const before = await withClientAt(db.url, async (c) => {
        return flattenFlags(await rowSnapshot(c));
      });
      const env = { DATABASE_URL: db.url, BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-smoke-up-')) };
      const r = await upkit('upgrade.ts', [...backupArgs(), '--yes', '--json'], { env });
      expect(r.json().release).toEqual({ from: 'v1.0', to: 'v2.3' });
      expect(r.json().findings.filter((f) => f.severity === 'error')).toEqual([]);
      await withClientAt(db.url, async (c) => {
        expect(await schemaFingerprint(c)).toEqual(await freshInstallFingerprint());
        expect(lostOrChanged(before, flattenFlags(await rowSnapshot(c)), upgradeTransforms)).toEqual([]);
      });
      const v = await upkit('verify/index.ts', ['--json'], { env: { DATABASE_URL: db.url } });
      expect(v.json().findings.filter((f) => f.severity === 'error')).toEqual([]);
    });

    it(
      'backs the upgraded install up and restores it into a new database with the same rows and schema',
      backupTests(),
      async () => {
        const env = { DATABASE_URL: db.url };
        const dir = mkdtempSync(path.join(tmpdir(), 'upkit-smoke-backup-'));
        const b = await upkit('scripts/backup.ts', ['--json', '--backup-dir', dir], { env });
        const backup = b.json().backup!;
        expect(path.dirname(backup.path)).toBe(dir);
        const into = `${db.name}_copy`;
        copies.push(into);
        const r = await upkit('scripts/restore.ts', [backup.path, '--into', into, '--yes', '--json'], { env });
        expect(r.json()).toMatchObject({
          command: 'restore',
          status: 'ok',
          exitCode: 0,
          findings: [],
          backup: { path: backup.path },
        });
        const rows = (database: string) =>
          withAdminClient(
            async (c) => ({ public: await rowSnapshot(c), drizzle: await rowSnapshot(c, 'drizzle') }),
            database,
          );
        const copy = await rows(into);
        expect(copy.drizzle.get('__drizzle_migrations')?.size).toBe(4);
        expect(copy).toEqual(await rows(db.name));
      },
    );
  });
});
