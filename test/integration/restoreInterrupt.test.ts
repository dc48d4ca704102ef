// Ctrl-C during an in-place restore: pg_restore is stopped, the new database dropped, the
// live database left as it was, exit 130; a second Ctrl-C or a SIGTERM waits for that drop.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { takeBackup } from '../../lib/backup/run.ts';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/log.ts';
import { runUpkit } from '../support/cli.ts';
import { companions } from '../support/backupFormat.ts';
import { backupTests, slowToIndex, type TestDatabase, useFreshDatabase, withAdminClient } from '../support/database.ts';
import { buildRelease } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';
import { sendDelivered } from '../support/wait.ts';

const quiet = () =>
  createLogger({
    command: 'test',
    logDir: false,
    interactive: false,
    stream: new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream,
  });

/**
 * A backup of Pulse v2.3 with rows, holding an index pg_restore takes 30 s to build: the
 * restore is still running when the interruption comes.
 */
async function backupOfSlowRestore(db: TestDatabase) {
  await withAdminClient((c) => buildRelease(c, 'v2.3', { data: { users: 5_000 } }), db.database);
  await slowToIndex(db);
  const dir = mkdtempSync(path.join(tmpdir(), 'upkit-restore-'));
  return takeBackup(loadConfig({ env: { DATABASE_URL: db.url }, cwd: dir }), quiet(), {
    backupDir: dir,
    keep: 5,
    upkitVersion: 'test',
  });
}

describe('restore interrupted', backupTests(), () => {
  const db = useFreshDatabase();

  it('drops the new database and leaves the live one untouched, exit 130', async () => {
    const backup = await backupOfSlowRestore(db());
    await withAdminClient((c) => c.query('delete from audit_logs'), db().database);
    const live = await withAdminClient((c) => rowSnapshot(c), db().database);

    let watching = true;
    const r = await runUpkit('scripts/restore.ts', [backup.path, '--yes'], {
      env: { DATABASE_URL: db().url },
      onSpawn: (pid) => {
        // Interrupt as soon as the restore's database exists.
        void (async () => {
          while (watching) {
            if ((await companions(db())).length) {
              process.kill(pid, 'SIGINT');
              return;
            }
            await new Promise((res) => setTimeout(res, 10));
          }
        })();
      },
    });
    watching = false;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('SIGINT received: stopping after rolling back what is in progress');
    expect(r.stderr).toMatch(/✖ (create database|pg_restore →) \S+_restore_\S+ {2}interrupted by SIGINT/);
    expect(await companions(db())).toEqual([]);
    expect(await withAdminClient((c) => rowSnapshot(c), db().database)).toEqual(live);
  });

  it(
    'a second SIGINT (and a SIGTERM after it) ' + 'waits for the new database to be dropped: exit 130, nothing left',
    async () => {
      const backup = await backupOfSlowRestore(db());
      const live = await withAdminClient((c) => rowSnapshot(c), db().database);
      let watching = true;
      const r = await runUpkit('scripts/restore.ts', [backup.path, '--yes'], {
        env: { DATABASE_URL: db().url },
        onSpawn: (pid) => {
          void (async () => {
            while (watching) {
              if ((await companions(db())).length) {
                // Impatient: Ctrl-C, Ctrl-C again at once, then a SIGTERM; each sent once the one
                // before has reached the process (two Ctrl-C still pending arrive as one).
                await sendDelivered(pid, 'SIGINT');
                await sendDelivered(pid, 'SIGINT');
                process.kill(pid, 'SIGTERM');
                return;
              }
              await new Promise((res) => setTimeout(res, 10));
            }
          })();
        },
      });
      watching = false;
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toContain('SIGINT again: upkit stops as soon as it has put back what it changed');
      expect(r.stderr).not.toContain('stopping now');
      expect(await companions(db())).toEqual([]);
      expect(await withAdminClient((c) => rowSnapshot(c), db().database)).toEqual(live);
    },
  );
});
