// Catalogue cases (test/failures/hardening/restore.ts): rollback without a terminal, and a
// second rollback after one upgrade. Each says what is true and names a command that works.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { companionName } from '../../lib/backup/restoreDb.ts';
import { swapBackCommand } from '../../lib/backup/swap.ts';
import { dbState, expectCase, expectUnchanged, failureCase, runCase, tempDir } from '../failures/check.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, useFreshDatabase, withAdminClient } from '../support/database.ts';
import { asRelease } from '../support/releases.ts';

describe('failure catalogue: rollback', backupTests(), () => {
  const db = useFreshDatabase();

  async function companions(): Promise<string[]> {
    const { rows } = await withAdminClient((c) =>
      c.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1) order by 1', [
        `${db().name}_`,
      ]),
    );
    return rows.map((r) => r.datname);
  }

  /** A v2.2 install upgraded to v2.3 by upkit, which took a backup first. */
  async function upgraded(): Promise<{ backup: string; env: Record<string, string> }> {
    await asRelease(db(), 'v2.2');
    const env = { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-case-rollback-') };
    const up = await runUpkit('upgrade.ts', ['--yes', '--json'], { env, timeoutMs: 120_000 });
    expect(up.code, up.stderr).toBe(0);
    return { backup: up.json().backup!.path, env };
  }

  it('rollback.no-terminal', async () => {
    const { env } = await upgraded();
    const before = await dbState(db().url);
    const c = failureCase('rollback.no-terminal');
    const r = await runCase(c, { url: db().url }, { extraEnv: env });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(await companions()).toEqual([]);
  });

  it('rollback.after-rollback', { timeout: 180_000 }, async () => {
    const { backup, env } = await upgraded();
    const first = await runUpkit('scripts/rollback.ts', ['--yes'], { env, timeoutMs: 120_000 });
    expect(first.code, first.stderr).toBe(0);
    const [previous] = await companions();
    expect(previous).toMatch(/_before_restore_/);
    const before = await dbState(db().url);
    const c = failureCase('rollback.after-rollback');
    const r = await runCase(
      c,
      { url: db().url, database: db().name, backupName: path.basename(backup) },
      { extraEnv: env, timeoutMs: 60_000 },
    );
    // The name the swap-back would give the current database carries the time of the run.
    const restored =
      new RegExp(`RENAME TO "(${db().name}_restore_\\d{8}t\\d{6}z)"`).exec(r.stderr)?.[1] ??
      companionName(db().name, 'restore', new Date());
    expectCase(r, c, {
      ...r.vars,
      swapBack: swapBackCommand(
        { host: db().host, port: db().port, user: db().user },
        { live: db().name, previous: previous!, restored },
      ),
    });
    await expectUnchanged(db().url, before);
    expect(await companions()).toEqual([previous]);
  });
});
