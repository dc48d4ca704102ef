import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { runUpkit } from '../support/cli.ts';
import { backupArgs, backupsTestable, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease, DRIZZLE_DIR } from '../support/releases.ts';

const withDb = withClientAt;

describe('status and mark', () => {
  const db = useFreshDatabase();

  it('status says what is pending; --exit-code is 1 until the upgrade ran', async () => {
    await asRelease(db(), 'v1.2');
    const env = { DATABASE_URL: db().url, BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')) };
    const before = await runUpkit('scripts/status.ts', ['--exit-code'], { env });
    expect(before.code, before.stderr).toBe(1);
    expect(before.stdout).toContain(`${db().database}: v1.2, 6 steps pending to reach v2.3`);
    expect(before.stdout).toContain(
      'drizzle ledger: absent, pending: 0000_init, 0001_api_keys, 0002_audit_logs, 0003_integration_status_enum',
    );
    expect((await runUpkit('scripts/status.ts', [], { env })).code).toBe(0);
    expect((await runUpkit('upgrade.ts', ['--yes', ...backupArgs()], { env })).code).toBe(0);
    const after = await runUpkit('scripts/status.ts', ['--exit-code', '--json'], { env });
    expect(after.code, after.stderr).toBe(0);
    expect(after.json().release).toEqual({ from: 'v2.3', to: 'v2.3' });
    expect(after.stderr).toMatch(
      backupsTestable()
        ? /upgrade ok v1\.2 → v2\.3 backup \S+\.dump/
        : /upgrade ok v1\.2 → v2\.3 no backup \(--no-backup\)/,
    );
  });

  it(
    'mark records an entry as applied and --reset removes it, ' + 'under the lock, recorded in the runs ledger',
    async () => {
      await asRelease(db(), 'v2.3');
      const m2 = readMigrations(DRIZZLE_DIR)[2]!;
      const env = { DATABASE_URL: db().url };
      const noTty = await runUpkit('scripts/mark.ts', ['0002_audit_logs', '--reset'], { env });
      expect(noTty.code).toBe(2);
      expect(noTty.stderr).toContain('there is no terminal to confirm it');
      const reset = await runUpkit('scripts/mark.ts', ['0002_audit_logs', '--reset', '--yes'], { env });
      expect(reset.code, reset.stderr).toBe(0);
      // The way back names mark.ts, pasted as is.
      expect(reset.stderr).toContain(
        '  → to record it as applied again: npx zx scripts/mark.ts ' +
          '0002_audit_logs --yes; to run it instead: npx zx upgrade.ts',
      );
      await withDb(db().url, async (c) =>
        expect(
          (await c.query('select count(*)::int as n from drizzle.__drizzle_migrations where hash = $1', [m2.hash]))
            .rows[0].n,
        ).toBe(0),
      );
      expect((await runUpkit('scripts/status.ts', ['--exit-code'], { env })).code).toBe(1);
      const mark = await runUpkit('scripts/mark.ts', ['0002_audit_logs', '--yes'], { env });
      expect(mark.code, mark.stderr).toBe(0);
      await withDb(db().url, async (c) => {
        expect(
          (await c.query('select created_at::text from drizzle.__drizzle_migrations where hash = $1', [m2.hash])).rows,
        ).toEqual([{ created_at: String(m2.when) }]);
        expect((await c.query(`select command, status from upkit.runs order by started_at`)).rows).toEqual([
          { command: 'mark --reset 0002_audit_logs', status: 'ok' },
          { command: 'mark 0002_audit_logs', status: 'ok' },
        ]);
      });
      expect((await runUpkit('scripts/status.ts', ['--exit-code'], { env })).code).toBe(0);
      const unknown = await runUpkit('scripts/mark.ts', ['0009_nope', '--yes'], { env });
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('no drizzle entry or legacy file is called "0009_nope"');
    },
  );
});
