// Catalogue cases (test/failures/hardening/statuses.ts, docs/FAILURES.md): what a run says it
// did. Another app's drizzle folder (a copy of one, --drizzle-dir) is installed by upkit; the
// phase lines, the last line and the --json report's status, outcome, changes and summary are
// checked against what happened to the database.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report.ts';
import {
  dbState,
  expectCase,
  expectUnchanged,
  failureCase,
  plainLines,
  runCase,
  runsOf,
  tempDir,
} from '../failures/check.ts';
import { expectVerifyCase } from '../failures/verifyCase.ts';
import { runUpkit } from '../support/cli.ts';
import { backupTests, useFreshDatabase, withClientAt } from '../support/database.ts';
import { drizzleFolderWith } from '../support/drizzleFolders.ts';
import { drizzleFolderUpTo } from '../support/releases.ts';
import { DURATION } from '../support/logLines.ts';

/** Phase lines (`✔ verify  …`) without their timings. */
const phase = (stderr: string, name: string) =>
  plainLines(stderr)
    .filter((l) => new RegExp(`^. ${name} {2}`).test(l))
    .map((l) => l.replace(/ \(\d+(?:\.\d)? (?:ms|s)\)$/, ''));

describe('failure catalogue: statuses that say what a run did', backupTests(), () => {
  const db = useFreshDatabase();
  const q = (sql: string) => withClientAt(db().url, (c) => c.query(sql));

  /** Installs the app's entries 0..last with upkit, as its operator would have. */
  async function appAt(last: number): Promise<void> {
    const r = await runUpkit('upgrade.ts', ['--yes', '--drizzle-dir', drizzleFolderUpTo(last)], {
      env: { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-case-bk-') },
    });
    expect(r.code, r.stderr).toBe(0);
  }

  it('status.applied-then-problems', async () => {
    await appAt(1);
    await q('drop index configurations_created_by_idx');
    const c = failureCase('status.applied-then-problems');
    const backups = tempDir('upkit-case-bk-');
    const r = await runCase(c, { url: db().url, dir: drizzleFolderUpTo(3), backups });
    const report = r.json<Report>();
    expectCase(r, c, { ...r.vars, backup: report.backup!.path });
    expect(path.dirname(report.backup!.path)).toBe(backups);
    expect(report).toMatchObject({
      status: 'problems',
      outcome: 'applied-then-problems',
      changes: { made: true, steps: 2 },
      summary: 'applied 2 steps, then verification found 1 problem',
    });
    expect(report.applied.map((a) => a.name)).toEqual(['0002_audit_logs', '0003_integration_status_enum']);
    expect(report.phases.find((p) => p.name === 'verify')).toMatchObject({
      status: 'failed',
      detail: '1 error in schema and ledgers',
    });
    expect(phase(r.stderr, 'verify')).toEqual(['✖ verify  1 error in schema and ledgers']);
    expect(r.stderr).not.toMatch(/seed|Pulse|\(s\)/);
    expect(await runsOf(db().url)).toEqual([
      { command: 'upgrade', status: 'ok' },
      { command: 'upgrade', status: 'failed' },
    ]);
    const stored = await q(`select report->>'outcome' as outcome from upkit.runs order by started_at desc limit 1`);
    expect(stored.rows).toEqual([{ outcome: 'applied-then-problems' }]);
  });

  it('status.verify-problems', async () => {
    await appAt(3);
    await q('drop index configurations_created_by_idx');
    const c = failureCase('status.verify-problems');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir: drizzleFolderUpTo(3) });
    expectVerifyCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(r.json<Report>()).toMatchObject({
      status: 'problems',
      outcome: 'problems',
      changes: { made: false, steps: 0 },
      summary: 'verification found 1 problem; nothing was changed',
    });
    expect(phase(r.stderr, 'schema')).toEqual([
      expect.stringMatching(
        /^✖ schema {2}\d+ tables against 0003_integration_status_enum( \(its migrations replayed\))?: 1 error$/,
      ),
    ]);
    const summary = plainLines(r.stderr).find((l) => l.startsWith('verify: '));
    expect(summary).toMatch(
      /^verify: 1 error, 0 warnings \(schema \d+\.\d\d s, ledgers \d+\.\d\d s, runtime not checked\)$/,
    );
    expect(r.stderr).not.toMatch(/seed|Pulse/);
  });

  it('status.refused', async () => {
    await appAt(3);
    const c = failureCase('status.refused');
    const before = await dbState(db().url);
    const r = await runCase(c, { url: db().url, dir: drizzleFolderUpTo(1), backups: tempDir('upkit-case-bk-') });
    expectCase(r, c, r.vars);
    await expectUnchanged(db().url, before);
    expect(r.json<Report>()).toMatchObject({
      status: 'refused',
      outcome: 'refused',
      changes: { made: false, steps: 0 },
      summary: 'refused before any change; nothing was changed',
    });
  });

  it(
    "an app's clean upgrade and verify claim schema and ledgers, " +
      'never seed data; a one-statement migration is 1 statement',
    async () => {
      await appAt(3);
      const dir = drizzleFolderWith({
        tag: '0004_notes',
        when: Date.parse('2026-11-30T00:00:00.000Z'),
        sql: 'CREATE TABLE "notes" ("id" integer PRIMARY KEY);',
      });
      const env = { DATABASE_URL: db().url, BACKUP_DIR: tempDir('upkit-case-bk-') };
      const up = await runUpkit('upgrade.ts', ['--yes', '--json', '--drizzle-dir', dir], { env });
      expect(up.code, up.stderr).toBe(0);
      expect(plainLines(up.stderr).filter((l) => l.includes('0004_notes ('))).toEqual([
        '  1. drizzle: 0004_notes (1 statement)',
        expect.stringMatching(new RegExp(String.raw`^✔ drizzle: 0004_notes \(1 statement\) \(${DURATION}\)$`)),
      ]);
      // The snapshot of this copied folder does not know the new table: a warning, so ⚠, not ✔.
      expect(phase(up.stderr, 'verify')).toEqual(['⚠ verify  1 warning in schema and ledgers']);
      expect(up.json<Report>()).toMatchObject({
        status: 'ok',
        outcome: 'ok',
        changes: { made: true, steps: 1 },
        summary: 'applied 1 step; done',
      });
      expect(up.stderr).not.toMatch(/seed|Pulse|\(s\)/);

      const clean = drizzleFolderUpTo(3);
      await q('drop table notes');
      await q(`delete from drizzle.__drizzle_migrations where created_at = ${Date.parse('2026-11-30T00:00:00.000Z')}`);
      const again = await runUpkit('upgrade.ts', ['--yes', '--drizzle-dir', clean], { env });
      expect(again.code, again.stderr).toBe(0);
      expect(phase(again.stderr, 'verify')).toEqual(['✔ verify  schema and ledgers as expected']);
      const v = await runUpkit('verify/index.ts', ['--json', '--drizzle-dir', clean], {
        env: { DATABASE_URL: db().url },
      });
      expect(v.code, v.stderr).toBe(0);
      expect(v.json<Report>()).toMatchObject({ status: 'ok', outcome: 'ok', changes: { made: false, steps: 0 } });
      expect(v.stderr).not.toMatch(/seed|Pulse/);
    },
  );
});
