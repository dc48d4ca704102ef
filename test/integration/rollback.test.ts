import { cpSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { runUpkit } from '../support/cli.ts';
import { backupArgs, backupTests, useFreshDatabase, withAdminClient, withClientAt } from '../support/database.ts';
import { asRelease, buildRelease, DRIZZLE_DIR } from '../support/releases.ts';
import { rowSnapshot } from '../support/rows.ts';

const withDb = withClientAt;

describe('rollback', () => {
  const db = useFreshDatabase();

  it('restores the backup the last upgrade took, keeping the upgraded database beside it', backupTests(), async () => {
    await asRelease(db(), 'v1.2');
    const before = await withDb(db().url, (c) => rowSnapshot(c));
    const env = { DATABASE_URL: db().url, BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')) };
    expect((await runUpkit('upgrade.ts', ['--yes'], { env })).code).toBe(0);
    const r = await runUpkit('scripts/rollback.ts', ['--yes'], { env });
    try {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/the last run with a backup: upgrade v1\.2 → v2\.3 \(ok, /);
      await withDb(db().url, async (c) => {
        expect(await rowSnapshot(c)).toEqual(before);
        expect((await c.query(`select to_regclass('public.api_keys') as t`)).rows[0].t).toBeNull();
        // The backup held the upgrade's own row as 'running': the restore closes it as interrupted.
        const runs = (
          await c.query(
            `select command, status, release_from, release_to, ` +
              `report->>'restoredFrom' as file from upkit.runs order by started_at`,
          )
        ).rows;
        // The rollback records itself, so that status says the database went back.
        expect(runs).toEqual([
          {
            command: 'upgrade',
            status: 'interrupted',
            release_from: 'v1.2',
            release_to: 'v2.3',
            file: expect.stringMatching(/\.dump$/),
          },
          { command: 'rollback', status: 'ok', release_from: 'v2.3', release_to: 'v1.2', file: null },
        ]);
      });
      expect(r.stderr).toMatch(
        /the upgrade run started \S+ was in progress when the backup was taken: marked interrupted/,
      );
      const again = await runUpkit('upgrade.ts', ['--yes', '--dry-run'], { env });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).not.toContain('died without finishing');
    } finally {
      await withAdminClient(async (c) => {
        const { rows } = await c.query(`select datname from pg_database where datname like $1`, [
          `${db().database}_before_restore%`,
        ]);
        expect(rows).toHaveLength(1);
        for (const row of rows) await c.query(`drop database ${c.escapeIdentifier(row.datname)} with (force)`);
      });
    }
  });

  it(
    'checks a directory-format backup by the sha256 of its list of files before it rolls back to it',
    backupTests(),
    async () => {
      await withDb(db().url, (c) => buildRelease(c, 'v1.2', { data: { users: 300 } }));
      const before = await withDb(db().url, (c) => rowSnapshot(c));
      // Every table with rows counts as large: the upgrade's backup is a folder written by parallel jobs.
      const env = {
        DATABASE_URL: db().url,
        BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')),
        UPKIT_BACKUP_LARGE_TABLE_BYTES: '8192',
      };
      const up = await runUpkit('upgrade.ts', ['--yes', '--json'], { env });
      expect(up.code, up.stderr).toBe(0);
      const archive = (up.json() as { backup: { path: string } }).backup.path;
      expect(statSync(archive).isDirectory()).toBe(true);
      const r = await runUpkit('scripts/rollback.ts', ['--yes'], { env });
      try {
        expect(r.code, r.stderr).toBe(0);
        await withDb(db().url, async (c) => expect(await rowSnapshot(c)).toEqual(before));
      } finally {
        await withAdminClient(async (c) => {
          const { rows } = await c.query(`select datname from pg_database where datname like $1`, [
            `${db().database}_before_restore%`,
          ]);
          for (const row of rows) await c.query(`drop database ${c.escapeIdentifier(row.datname)} with (force)`);
        });
      }
    },
  );

  it(
    "--down runs the newest entry's down migration and removes it from the ledger; without one it refuses",
    backupTests(),
    async () => {
      await asRelease(db(), 'v2.3');
      const noDown = await runUpkit('scripts/rollback.ts', ['--down', '--yes'], { env: { DATABASE_URL: db().url } });
      expect(noDown.code).toBe(3);
      expect(noDown.stderr).toContain('0003_integration_status_enum has no down migration');

      const dir = mkdtempSync(path.join(tmpdir(), 'upkit-app-drizzle-'));
      cpSync(DRIZZLE_DIR, dir, { recursive: true });
      const journalPath = path.join(dir, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalPath, 'utf8'));
      const last = readMigrations(DRIZZLE_DIR)[3]!;
      journal.entries.push({ idx: 4, version: '7', when: last.when + 1000, tag: '0004_notes', breakpoints: true });
      writeFileSync(journalPath, JSON.stringify(journal));
      writeFileSync(path.join(dir, '0004_notes.sql'), 'CREATE TABLE "notes" ("id" integer PRIMARY KEY);');
      cpSync(path.join(dir, 'meta', '0003_snapshot.json'), path.join(dir, 'meta', '0004_snapshot.json'));
      mkdirSync(path.join(dir, 'down'));
      writeFileSync(path.join(dir, 'down', '0004_notes.sql'), 'DROP TABLE "notes";');
      const env = { DATABASE_URL: db().url, BACKUP_DIR: mkdtempSync(path.join(tmpdir(), 'upkit-bk-')) };
      expect((await runUpkit('upgrade.ts', ['--yes', '--drizzle-dir', dir, ...backupArgs()], { env })).code).toBe(0);
      const down = await runUpkit(
        'scripts/rollback.ts',
        ['--down', '--yes', '--allow-destructive', '--drizzle-dir', dir],
        { env },
      );
      expect(down.code, down.stderr).toBe(0);
      await withDb(db().url, async (c) => {
        expect((await c.query(`select to_regclass('public.notes') as t`)).rows[0].t).toBeNull();
        expect((await c.query('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n).toBe(4);
      });
    },
  );
});
