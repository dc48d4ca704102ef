// --no-backup: for operators whose own snapshot (of a managed database, say) replaces upkit's
// backup. No pg_dump is needed; the plan, the report and upkit.runs say no backup was taken
// and that the operator chose this; a failure points to their snapshot, and rollback will not
// reach past that run to an older backup.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../lib/drizzle/journal.ts';
import { NO_BACKUP_REASON } from '../../lib/upgrade.ts';
import { runUpkit } from '../support/cli.ts';
import { runInProcess } from '../support/inProcess.ts';
import { backupTests, useFreshDatabase, withClientAt } from '../support/database.ts';
import { asRelease, DRIZZLE_DIR } from '../support/releases.ts';
import { flattenFlags, lostOrChanged, rowSnapshot, upgradeTransforms } from '../support/rows.ts';

const tempDir = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

/** A directory without any PostgreSQL program: upkit finds no pg_dump at all. */
const noPgDump = () => ({ UPKIT_PG_BINDIR: tempDir('upkit-nobin-') });

/** Pulse's drizzle folder plus one more entry, `0004_notes`, whose SQL is given. */
function drizzleWithExtraEntry(sql: string): string {
  const dir = tempDir('upkit-app-drizzle-');
  cpSync(DRIZZLE_DIR, dir, { recursive: true });
  const journalPath = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: unknown[] };
  const last = readMigrations(DRIZZLE_DIR).at(-1)!;
  journal.entries.push({
    idx: journal.entries.length,
    version: '7',
    when: last.when + 1000,
    tag: '0004_notes',
    breakpoints: true,
  });
  writeFileSync(journalPath, JSON.stringify(journal));
  writeFileSync(path.join(dir, '0004_notes.sql'), sql);
  cpSync(path.join(dir, 'meta', `${last.tag.slice(0, 4)}_snapshot.json`), path.join(dir, 'meta', '0004_snapshot.json'));
  return dir;
}

describe('upgrade --no-backup', () => {
  const db = useFreshDatabase();

  it.each([
    [
      ['--no-backup', '--backup-dir', '/tmp/somewhere'],
      '✖ --no-backup and --backup-dir do not go together: with --no-backup upkit writes no backup',
    ],
    [
      ['--no-backup', '--rehearse'],
      '✖ --no-backup and --rehearse do not go together: ' +
        'a rehearsal runs on a copy restored from the backup --no-backup does not take',
    ],
  ])('refuses %j as conflicting flags: exit 2, before reading any configuration', async (args, line) => {
    // A usage error: run in process (test/support/inProcess.ts).
    const r = await runInProcess('upgrade.ts', args, { env: {} });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(line);
    expect(r.stderr).not.toContain('DATABASE_URL');
  });

  it(
    'upgrades v1.0 without any pg_dump; the plan, ' + 'the report and upkit.runs say the operator chose no backup',
    async () => {
      await asRelease(db(), 'v1.0');
      const before = await withClientAt(db().url, (c) => rowSnapshot(c));
      const backupDir = path.join(tempDir('upkit-bk-'), 'backups');
      const env = { DATABASE_URL: db().url, BACKUP_DIR: backupDir, ...noPgDump() };

      const dry = await runUpkit('upgrade.ts', ['--dry-run', '--no-backup', '--json'], { env });
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.json<{ plan: { backup: string } }>().plan.backup).toBe('operator');

      const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--json'], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`no backup: upkit takes none (${NO_BACKUP_REASON})`);
      expect(r.stderr).not.toContain('pg_dump →');
      const report = r.json<{
        backup: unknown;
        plan: { backup: string };
        findings: Array<{ code: string; severity: string; message: string }>;
      }>();
      expect(report.backup).toBeNull();
      expect(report.plan.backup).toBe('operator');
      expect(report.findings).toContainEqual(
        expect.objectContaining({
          severity: 'info',
          code: 'backup.skipped',
          message: `no backup was taken (${NO_BACKUP_REASON})`,
        }),
      );
      expect(existsSync(backupDir) ? readdirSync(backupDir) : []).toEqual([]);

      await withClientAt(db().url, async (c) => {
        const runs = (await c.query(`select command, status, backup_path, backup_skipped from upkit.runs`)).rows;
        expect(runs).toEqual([
          { command: 'upgrade', status: 'ok', backup_path: null, backup_skipped: NO_BACKUP_REASON },
        ]);
        expect(lostOrChanged(before, flattenFlags(await rowSnapshot(c)), upgradeTransforms)).toEqual([]);
      });
      const status = await runUpkit('scripts/status.ts', [], { env });
      expect(status.stdout).toMatch(/upgrade ok v1\.0 → v2\.3 no backup \(--no-backup\)/);
    },
  );

  it(
    'after changes began, a failure says upkit took no ' + "backup and to restore the operator's own snapshot",
    async () => {
      await asRelease(db(), 'v2.2');
      // 0003 applies, then 0004 fails at run time (a duplicate key), after its own rollback.
      const dir = drizzleWithExtraEntry(
        'CREATE TABLE "notes" ("id" integer PRIMARY KEY);\n--> ' +
          'statement-breakpoint\nINSERT INTO "notes" VALUES (1), (1);',
      );
      const r = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], {
        env: { DATABASE_URL: db().url, ...noPgDump() },
      });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/duplicate key value violates unique constraint "notes_pkey"/);
      expect(r.stderr).toContain('upkit took no backup (--no-backup): to go back, restore your own snapshot');
      expect(r.stderr).not.toContain('scripts/restore.ts');
      await withClientAt(db().url, async (c) => {
        expect((await c.query(`select status, backup_path, backup_skipped from upkit.runs`)).rows).toEqual([
          { status: 'failed', backup_path: null, backup_skipped: NO_BACKUP_REASON },
        ]);
        expect((await c.query(`select to_regclass('public.notes') as t`)).rows[0].t).toBeNull();
      });
    },
  );

  describe('rollback after it', backupTests(), () => {
    it('refuses to restore an older backup past a run that took none, naming that run', async () => {
      await asRelease(db(), 'v2.2');
      const env = { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-bk-') };
      const dir = drizzleWithExtraEntry('CREATE TABLE "notes" ("id" integer PRIMARY KEY);');
      // v2.2 → v2.3 with upkit's backup, then 0004 with --no-backup.
      expect((await runUpkit('upgrade.ts', ['--yes'], { env })).code).toBe(0);
      const second = await runUpkit('upgrade.ts', ['--yes', '--no-backup', '--drizzle-dir', dir], { env });
      expect(second.code, second.stderr).toBe(0);
      const r = await runUpkit('scripts/rollback.ts', ['--yes'], { env });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(
        new RegExp(
          `✖ the last upgrade \\(0003_integration_status_enum → 0004_notes, ok, ` +
            `\\S+\\) took no backup: ${NO_BACKUP_REASON.replace(/[()]/g, '\\$&')}`,
        ),
      );
      expect(r.stderr).toContain('→ restore the database from your own snapshot');
      await withClientAt(db().url, async (c) =>
        expect((await c.query(`select to_regclass('public.notes') as t`)).rows[0].t).toBe('notes'),
      );
    });
  });
});

describe('preflight and install --no-backup', () => {
  const db = useFreshDatabase();

  it('preflight passes without any pg_dump, saying pg_dump and backup room were not checked', async () => {
    const r = await runUpkit('scripts/preflight.ts', ['--no-backup', '--json'], {
      env: { DATABASE_URL: db().url, ...noPgDump() },
    });
    expect(r.code, r.stderr).toBe(0);
    const phases = r.json().phases.filter((p) => p.name === 'pg_dump' || p.name === 'backup space');
    expect(phases).toEqual([
      expect.objectContaining({ name: 'pg_dump', status: 'skipped', detail: expect.stringContaining('--no-backup') }),
      expect.objectContaining({
        name: 'backup space',
        status: 'skipped',
        detail: expect.stringContaining('--no-backup'),
      }),
    ]);
    const without = await runUpkit('scripts/preflight.ts', [], { env: { DATABASE_URL: db().url, ...noPgDump() } });
    expect(without.code).toBe(3);
    const both = await runInProcess('scripts/preflight.ts', ['--no-backup', '--backup-dir', '/tmp/somewhere'], {
      env: {},
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('✖ --no-backup and --backup-dir do not go together');
  });

  it('install runs without any pg_dump and installs the latest release', async () => {
    const cwd = tempDir('upkit-install-');
    const r = await runUpkit('install.ts', ['--yes', '--no-containers', '--no-backup'], {
      env: { DATABASE_URL: db().url, ...noPgDump() },
      cwd,
    });
    expect(r.code, r.stderr).toBe(0);
    await withClientAt(db().url, async (c) => {
      expect((await c.query('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n).toBe(4);
    });
  });
});
